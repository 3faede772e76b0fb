//go:build !purego

#include "textflag.h"

// Each constant is 8 float32 copies (one YMM register's worth).
DATA gelut<>+0(SB)/4, $0x3f3504f3 // rsqrt2
DATA gelut<>+4(SB)/4, $0x3f3504f3
DATA gelut<>+8(SB)/4, $0x3f3504f3
DATA gelut<>+12(SB)/4, $0x3f3504f3
DATA gelut<>+16(SB)/4, $0x3f3504f3
DATA gelut<>+20(SB)/4, $0x3f3504f3
DATA gelut<>+24(SB)/4, $0x3f3504f3
DATA gelut<>+28(SB)/4, $0x3f3504f3
DATA gelut<>+32(SB)/4, $0x40800000 // four
DATA gelut<>+36(SB)/4, $0x40800000
DATA gelut<>+40(SB)/4, $0x40800000
DATA gelut<>+44(SB)/4, $0x40800000
DATA gelut<>+48(SB)/4, $0x40800000
DATA gelut<>+52(SB)/4, $0x40800000
DATA gelut<>+56(SB)/4, $0x40800000
DATA gelut<>+60(SB)/4, $0x40800000
DATA gelut<>+64(SB)/4, $0xc0800000 // mfour
DATA gelut<>+68(SB)/4, $0xc0800000
DATA gelut<>+72(SB)/4, $0xc0800000
DATA gelut<>+76(SB)/4, $0xc0800000
DATA gelut<>+80(SB)/4, $0xc0800000
DATA gelut<>+84(SB)/4, $0xc0800000
DATA gelut<>+88(SB)/4, $0xc0800000
DATA gelut<>+92(SB)/4, $0xc0800000
DATA gelut<>+96(SB)/4, $0xaf95df0b // a13
DATA gelut<>+100(SB)/4, $0xaf95df0b
DATA gelut<>+104(SB)/4, $0xaf95df0b
DATA gelut<>+108(SB)/4, $0xaf95df0b
DATA gelut<>+112(SB)/4, $0xaf95df0b
DATA gelut<>+116(SB)/4, $0xaf95df0b
DATA gelut<>+120(SB)/4, $0xaf95df0b
DATA gelut<>+124(SB)/4, $0xaf95df0b
DATA gelut<>+128(SB)/4, $0x32edffee // a11
DATA gelut<>+132(SB)/4, $0x32edffee
DATA gelut<>+136(SB)/4, $0x32edffee
DATA gelut<>+140(SB)/4, $0x32edffee
DATA gelut<>+144(SB)/4, $0x32edffee
DATA gelut<>+148(SB)/4, $0x32edffee
DATA gelut<>+152(SB)/4, $0x32edffee
DATA gelut<>+156(SB)/4, $0x32edffee
DATA gelut<>+160(SB)/4, $0xb60cff51 // a9
DATA gelut<>+164(SB)/4, $0xb60cff51
DATA gelut<>+168(SB)/4, $0xb60cff51
DATA gelut<>+172(SB)/4, $0xb60cff51
DATA gelut<>+176(SB)/4, $0xb60cff51
DATA gelut<>+180(SB)/4, $0xb60cff51
DATA gelut<>+184(SB)/4, $0xb60cff51
DATA gelut<>+188(SB)/4, $0xb60cff51
DATA gelut<>+192(SB)/4, $0xb86ec2d2 // a7
DATA gelut<>+196(SB)/4, $0xb86ec2d2
DATA gelut<>+200(SB)/4, $0xb86ec2d2
DATA gelut<>+204(SB)/4, $0xb86ec2d2
DATA gelut<>+208(SB)/4, $0xb86ec2d2
DATA gelut<>+212(SB)/4, $0xb86ec2d2
DATA gelut<>+216(SB)/4, $0xb86ec2d2
DATA gelut<>+220(SB)/4, $0xb86ec2d2
DATA gelut<>+224(SB)/4, $0xba40ac63 // a5
DATA gelut<>+228(SB)/4, $0xba40ac63
DATA gelut<>+232(SB)/4, $0xba40ac63
DATA gelut<>+236(SB)/4, $0xba40ac63
DATA gelut<>+240(SB)/4, $0xba40ac63
DATA gelut<>+244(SB)/4, $0xba40ac63
DATA gelut<>+248(SB)/4, $0xba40ac63
DATA gelut<>+252(SB)/4, $0xba40ac63
DATA gelut<>+256(SB)/4, $0xbb41a1f6 // a3
DATA gelut<>+260(SB)/4, $0xbb41a1f6
DATA gelut<>+264(SB)/4, $0xbb41a1f6
DATA gelut<>+268(SB)/4, $0xbb41a1f6
DATA gelut<>+272(SB)/4, $0xbb41a1f6
DATA gelut<>+276(SB)/4, $0xbb41a1f6
DATA gelut<>+280(SB)/4, $0xbb41a1f6
DATA gelut<>+284(SB)/4, $0xbb41a1f6
DATA gelut<>+288(SB)/4, $0xbc83dbd4 // a1
DATA gelut<>+292(SB)/4, $0xbc83dbd4
DATA gelut<>+296(SB)/4, $0xbc83dbd4
DATA gelut<>+300(SB)/4, $0xbc83dbd4
DATA gelut<>+304(SB)/4, $0xbc83dbd4
DATA gelut<>+308(SB)/4, $0xbc83dbd4
DATA gelut<>+312(SB)/4, $0xbc83dbd4
DATA gelut<>+316(SB)/4, $0xbc83dbd4
DATA gelut<>+320(SB)/4, $0xb77460cd // b8
DATA gelut<>+324(SB)/4, $0xb77460cd
DATA gelut<>+328(SB)/4, $0xb77460cd
DATA gelut<>+332(SB)/4, $0xb77460cd
DATA gelut<>+336(SB)/4, $0xb77460cd
DATA gelut<>+340(SB)/4, $0xb77460cd
DATA gelut<>+344(SB)/4, $0xb77460cd
DATA gelut<>+348(SB)/4, $0xb77460cd
DATA gelut<>+352(SB)/4, $0xb95fbd29 // b6
DATA gelut<>+356(SB)/4, $0xb95fbd29
DATA gelut<>+360(SB)/4, $0xb95fbd29
DATA gelut<>+364(SB)/4, $0xb95fbd29
DATA gelut<>+368(SB)/4, $0xb95fbd29
DATA gelut<>+372(SB)/4, $0xb95fbd29
DATA gelut<>+376(SB)/4, $0xb95fbd29
DATA gelut<>+380(SB)/4, $0xb95fbd29
DATA gelut<>+384(SB)/4, $0xbadc924e // b4
DATA gelut<>+388(SB)/4, $0xbadc924e
DATA gelut<>+392(SB)/4, $0xbadc924e
DATA gelut<>+396(SB)/4, $0xbadc924e
DATA gelut<>+400(SB)/4, $0xbadc924e
DATA gelut<>+404(SB)/4, $0xbadc924e
DATA gelut<>+408(SB)/4, $0xbadc924e
DATA gelut<>+412(SB)/4, $0xbadc924e
DATA gelut<>+416(SB)/4, $0xbbf19bf8 // b2
DATA gelut<>+420(SB)/4, $0xbbf19bf8
DATA gelut<>+424(SB)/4, $0xbbf19bf8
DATA gelut<>+428(SB)/4, $0xbbf19bf8
DATA gelut<>+432(SB)/4, $0xbbf19bf8
DATA gelut<>+436(SB)/4, $0xbbf19bf8
DATA gelut<>+440(SB)/4, $0xbbf19bf8
DATA gelut<>+444(SB)/4, $0xbbf19bf8
DATA gelut<>+448(SB)/4, $0xbc69b6a7 // b0
DATA gelut<>+452(SB)/4, $0xbc69b6a7
DATA gelut<>+456(SB)/4, $0xbc69b6a7
DATA gelut<>+460(SB)/4, $0xbc69b6a7
DATA gelut<>+464(SB)/4, $0xbc69b6a7
DATA gelut<>+468(SB)/4, $0xbc69b6a7
DATA gelut<>+472(SB)/4, $0xbc69b6a7
DATA gelut<>+476(SB)/4, $0xbc69b6a7
DATA gelut<>+480(SB)/4, $0x3f000000 // half
DATA gelut<>+484(SB)/4, $0x3f000000
DATA gelut<>+488(SB)/4, $0x3f000000
DATA gelut<>+492(SB)/4, $0x3f000000
DATA gelut<>+496(SB)/4, $0x3f000000
DATA gelut<>+500(SB)/4, $0x3f000000
DATA gelut<>+504(SB)/4, $0x3f000000
DATA gelut<>+508(SB)/4, $0x3f000000
DATA gelut<>+512(SB)/4, $0x3f800000 // one
DATA gelut<>+516(SB)/4, $0x3f800000
DATA gelut<>+520(SB)/4, $0x3f800000
DATA gelut<>+524(SB)/4, $0x3f800000
DATA gelut<>+528(SB)/4, $0x3f800000
DATA gelut<>+532(SB)/4, $0x3f800000
DATA gelut<>+536(SB)/4, $0x3f800000
DATA gelut<>+540(SB)/4, $0x3f800000
GLOBL gelut<>(SB), RODATA|NOPTR, $544


// func biasGELU(x, b *float32, n int)
//
// x[i] = GELU(x[i] + b[i]) for i < n (n a multiple of 8; b may be nil),
// with the erf rational approximation of package nn, 8 lanes (AVX2+FMA).
TEXT ·biasGELU(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), DI
	MOVQ b+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ done

loop:
	VMOVUPS (DI), Y0
	TESTQ SI, SI
	JZ nobias
	VADDPS (SI), Y0, Y0
	ADDQ $32, SI

nobias:
	VMULPS gelut<>+0(SB), Y0, Y1
	VMAXPS gelut<>+64(SB), Y1, Y1
	VMINPS gelut<>+32(SB), Y1, Y1
	VMULPS Y1, Y1, Y2
	VMOVUPS gelut<>+96(SB), Y3
	VFMADD213PS gelut<>+128(SB), Y2, Y3
	VFMADD213PS gelut<>+160(SB), Y2, Y3
	VFMADD213PS gelut<>+192(SB), Y2, Y3
	VFMADD213PS gelut<>+224(SB), Y2, Y3
	VFMADD213PS gelut<>+256(SB), Y2, Y3
	VFMADD213PS gelut<>+288(SB), Y2, Y3
	VMOVUPS gelut<>+320(SB), Y4
	VFMADD213PS gelut<>+352(SB), Y2, Y4
	VFMADD213PS gelut<>+384(SB), Y2, Y4
	VFMADD213PS gelut<>+416(SB), Y2, Y4
	VFMADD213PS gelut<>+448(SB), Y2, Y4
	VMULPS Y1, Y3, Y3
	VDIVPS Y4, Y3, Y3
	VADDPS gelut<>+512(SB), Y3, Y3
	VMULPS gelut<>+480(SB), Y0, Y0
	VMULPS Y3, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	DECQ CX
	JNZ loop

done:
	VZEROUPPER
	RET
