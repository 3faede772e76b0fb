// Packing a weight matrix for oneDNN's matmul, shared by int8.c and
// bf16.c: the layout the primitive chose, and the reorder into it.
#ifndef KORMED_DNNLPACK_H
#define KORMED_DNNLPACK_H
#include <oneapi/dnnl/dnnl.h>
#include <string.h>

// packed_layout copies the weights layout pd chose to md and its
// implementation's name to impl (n bytes, zero-terminated).
static inline void packed_layout(const_dnnl_primitive_desc_t pd, dnnl_memory_desc_t *md, char *impl, size_t n) {
	*md = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
	const char *s = NULL;
	if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &s) == dnnl_success && s) strncpy(impl, s, n - 1);
}

// reorder copies src, laid out as from, to dst, laid out as to: oneDNN's
// reorder on eng, run on stream st. 1 on success, 0 otherwise.
static inline int reorder(dnnl_engine_t eng, dnnl_stream_t st, const dnnl_memory_desc_t *from, const void *src,
			  const dnnl_memory_desc_t *to, void *dst) {
	dnnl_primitive_desc_t rpd = NULL;
	dnnl_primitive_t r = NULL;
	dnnl_memory_t xs = NULL, xd = NULL;
	int ok = 0;
	if (dnnl_reorder_primitive_desc_create(&rpd, from, eng, to, eng, NULL) == dnnl_success &&
	    dnnl_primitive_create(&r, rpd) == dnnl_success &&
	    dnnl_memory_create(&xs, from, eng, (void *)src) == dnnl_success &&
	    dnnl_memory_create(&xd, to, eng, dst) == dnnl_success) {
		dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, xs}, {DNNL_ARG_TO, xd}};
		ok = dnnl_primitive_execute(r, st, 2, args) == dnnl_success && dnnl_stream_wait(st) == dnnl_success;
	}
	if (xs) dnnl_memory_destroy(xs);
	if (xd) dnnl_memory_destroy(xd);
	if (r) dnnl_primitive_destroy(r);
	if (rpd) dnnl_primitive_desc_destroy(rpd);
	return ok;
}
#endif
