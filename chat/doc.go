// Package chat renders the chat templates of Hugging Face models and
// generates text with kormed's decoder-only models (package decoder).
//
// A chat template is the Jinja2 string in tokenizer_config.json's
// "chat_template" (a string, or a list of {"name", "template"} objects; or
// a chat_template.jinja file next to it, as newer transformers save it).
// Template renders it as transformers' apply_chat_template does: the
// Jinja environment has trim_blocks and lstrip_blocks on, and the template
// sees messages (a list of {role, content}), add_generation_prompt,
// bos_token, eos_token and the other special tokens of
// tokenizer_config.json (unk_token, pad_token, ...,
// additional_special_tokens), and raise_exception(msg). The Jinja engine is
// github.com/nikolalohinski/gonja/v2 (loop, namespace(), Python string
// methods such as .strip(), filters such as |trim and |tojson, {%- -%}
// whitespace control).
//
// Generator ties a tokenizer and a decoder: it encodes a prompt, runs
// decoder.Model.GenerateSampled and streams the new text piece by piece,
// holding back bytes until they form complete UTF-8 characters (a Korean
// syllable is three bytes, often split across byte-level BPE tokens) and
// text that may be the start of a stop string.
package chat
