package tokenizer

import (
	"fmt"
	"strings"
)

// Decode turns ids back into text as the tokenizers library's Tokenizer.decode does: ids
// outside the vocabulary are dropped, special added tokens too when skipSpecial is set, and
// the decoder of tokenizer.json is applied. ByteLevel (GPT-2, Llama-3, EXAONE) maps the
// tokens' characters back to bytes, so Decode(Encode(text)) gives the text back exactly; with
// no decoder the tokens are joined by spaces. Other decoders (Metaspace, WordPiece, ...) are
// not implemented and return an error.
func (t *Tokenizer) Decode(ids []int32, skipSpecial bool) (string, error) {
	switch t.decoder {
	case "ByteLevel":
		var b []byte
		for _, id := range ids {
			if tok, ok := t.decodeToken(id, skipSpecial); ok {
				b = byteLevelDecode(b, tok)
			}
		}
		return lossyUTF8(b), nil
	case "":
		var toks []string
		for _, id := range ids {
			if tok, ok := t.decodeToken(id, skipSpecial); ok {
				toks = append(toks, tok)
			}
		}
		return strings.Join(toks, " "), nil
	}
	return "", fmt.Errorf("tokenizer: Decode: decoder %q is not supported (ByteLevel, none)", t.decoder)
}

func (t *Tokenizer) decodeToken(id int32, skipSpecial bool) (string, bool) {
	if id < 0 || int(id) >= len(t.vocab) || t.vocab[id] == "" {
		return "", false
	}
	if skipSpecial && t.special[id] {
		return "", false
	}
	return t.vocab[id], true
}
