package chat

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// conversation is the conversation of llama.cpp's tests/test-chat-template.cpp
// (main_automated_tests), whose expected renderings are the golden strings
// below.
var conversation = []Message{
	{"system", "You are a helpful assistant"},
	{"user", "Hello"},
	{"assistant", "Hi there"},
	{"user", "Who are you"},
	{"assistant", "   I am an assistant   "},
	{"user", "Another question"},
}

// exaone35Template is the chat_template of LGAI-EXAONE/EXAONE-3.5-2.4B-Instruct
// (and -7.8B, -32B; identical to EXAONE-3.0-7.8B-Instruct's) as embedded in the
// GGUF files of ollama's library/exaone3.5:7.8b.
const exaone35Template = "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}{{ '[|system|][|endofturn|]\n' }}{% endif %}{{ '[|' + message['role'] + '|]' + message['content'] }}{% if message['role'] == 'user' %}{{ '\n' }}{% else %}{{ '[|endofturn|]\n' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '[|assistant|]' }}{% endif %}"

// llama3Template is the "Llama-3" case of llama.cpp's test-chat-template.cpp
// (Meta-Llama-3-8B-Instruct's template with the generation prompt always on).
const llama3Template = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"

// llama3InstructTemplate is meta-llama/Meta-Llama-3-8B-Instruct's
// tokenizer_config.json chat_template.
const llama3InstructTemplate = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"

func render(t *testing.T, src string, vars map[string]any, msgs []Message, gen bool) string {
	t.Helper()
	tpl, err := ParseTemplate(src)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range vars {
		tpl.Vars[k] = v
	}
	out, err := tpl.Render(msgs, gen)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTemplateGolden(t *testing.T) {
	cases := []struct {
		name, src, bos, eos, want string
	}{
		{"EXAONE-3.5", exaone35Template, "[BOS]", "[|endofturn|]",
			"[|system|]You are a helpful assistant[|endofturn|]\n[|user|]Hello\n[|assistant|]Hi there[|endofturn|]\n[|user|]Who are you\n[|assistant|]   I am an assistant   [|endofturn|]\n[|user|]Another question\n[|assistant|]"},
		// The golden strings from here on are llama.cpp's expected_output.
		{"Llama-3", llama3Template, "", "",
			"<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nI am an assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnother question<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
		{"OpenHermes-2.5 (ChatML)", "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}", "", "",
			"<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n   I am an assistant   <|im_end|>\n<|im_start|>user\nAnother question<|im_end|>\n<|im_start|>assistant\n"},
		{"deepseek-coder-33b-instruct (namespace, {%- -%})", "{% if not add_generation_prompt is defined %}\n{% set add_generation_prompt = false %}\n{% endif %}\n{%- set ns = namespace(found=false) -%}\n{%- for message in messages -%}\n    {%- if message['role'] == 'system' -%}\n        {%- set ns.found = true -%}\n    {%- endif -%}\n{%- endfor -%}\n{{bos_token}}{%- if not ns.found -%}\n{{'You are an AI programming assistant, utilizing the Deepseek Coder model, developed by Deepseek Company, and you only answer questions related to computer science. For politically sensitive questions, security and privacy issues, and other non-computer science questions, you will refuse to answer\\n'}}\n{%- endif %}\n{%- for message in messages %}\n    {%- if message['role'] == 'system' %}\n{{ message['content'] }}\n    {%- else %}\n        {%- if message['role'] == 'user' %}\n{{'### Instruction:\\n' + message['content'] + '\\n'}}\n        {%- else %}\n{{'### Response:\\n' + message['content'] + '\\n<|EOT|>\\n'}}\n        {%- endif %}\n    {%- endif %}\n{%- endfor %}\n{% if add_generation_prompt %}\n{{'### Response:'}}\n{% endif %}", "", "",
			"You are a helpful assistant### Instruction:\nHello\n### Response:\nHi there\n<|EOT|>\n### Instruction:\nWho are you\n### Response:\n   I am an assistant   \n<|EOT|>\n### Instruction:\nAnother question\n### Response:\n"},
		{"c4ai-command-r-plus (.strip(), messages[1:])", "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% elif false == true %}{% set loop_messages = messages %}{% set system_message = 'You are Command-R, a brilliant, sophisticated, AI-assistant trained to assist human users by providing thorough responses. You are trained by Cohere.' %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% if system_message != false %}{{ '<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>' + system_message + '<|END_OF_TURN_TOKEN|>' }}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% set content = message['content'] %}{% if message['role'] == 'user' %}{{ '<|START_OF_TURN_TOKEN|><|USER_TOKEN|>' + content.strip() + '<|END_OF_TURN_TOKEN|>' }}{% elif message['role'] == 'assistant' %}{{ '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>'  + content.strip() + '<|END_OF_TURN_TOKEN|>' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>' }}{% endif %}", "", "",
			"<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>You are a helpful assistant<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>Hello<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>Hi there<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>Who are you<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>I am an assistant<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>Another question<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := render(t, c.src, map[string]any{"bos_token": c.bos, "eos_token": c.eos}, conversation, true)
			if got != c.want {
				t.Errorf("got  %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestTemplateEXAONE(t *testing.T) {
	// No system message: the template adds an empty one.
	got := render(t, exaone35Template, nil, []Message{{"user", "열이 나요"}}, true)
	if want := "[|system|][|endofturn|]\n[|user|]열이 나요\n[|assistant|]"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	got = render(t, exaone35Template, nil, []Message{{"system", "당신은 의료 도우미입니다."}, {"user", "열이 나요"}}, false)
	if want := "[|system|]당신은 의료 도우미입니다.[|endofturn|]\n[|user|]열이 나요\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestTemplateLlama3Instruct(t *testing.T) {
	msgs := []Message{{"system", "You are a helpful assistant"}, {"user", " Hello \n"}}
	bos := map[string]any{"bos_token": "<|begin_of_text|>"}
	want := "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>"
	if got := render(t, llama3InstructTemplate, bos, msgs, false); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	want += "<|start_header_id|>assistant<|end_header_id|>\n\n"
	if got := render(t, llama3InstructTemplate, bos, msgs, true); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestTemplateRaiseException(t *testing.T) {
	// Mistral-7B-Instruct-v0.2's template (llama.cpp's test case) on a
	// conversation that does not alternate.
	src := "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"
	tpl, err := ParseTemplate(src)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tpl.Render([]Message{{"user", "a"}, {"user", "b"}}, true)
	var te *TemplateError
	if !errors.As(err, &te) || !strings.Contains(te.Msg, "must alternate") {
		t.Fatalf("err = %v, want the template's exception", err)
	}
	out, err := tpl.Render([]Message{{"user", "a"}, {"assistant", "b"}}, true)
	if err != nil || out != "[INST] a [/INST]b" {
		t.Fatalf("got %q, %v", out, err)
	}
}

func TestLoadTemplate(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadTemplate(dir, ""); !errors.Is(err, ErrNoTemplate) {
		t.Fatalf("no tokenizer_config.json: err = %v, want ErrNoTemplate", err)
	}
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>"}`)
	if _, err := LoadTemplate(dir, ""); !errors.Is(err, ErrNoTemplate) {
		t.Fatalf("no chat_template: err = %v, want ErrNoTemplate", err)
	}
	// chat_template.jinja next to it.
	if err := os.WriteFile(filepath.Join(dir, "chat_template.jinja"), []byte("{{ bos_token }}{{ messages[0]['content'] }}{{ eos_token }}"), 0o644); err != nil {
		t.Fatal(err)
	}
	tpl, err := LoadTemplate(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if out, _ := tpl.Render([]Message{{"user", "x"}}, true); out != "<s>x</s>" {
		t.Errorf("chat_template.jinja: got %q", out)
	}
	// The list-of-named-templates form.
	write(`{"eos_token": "</s>", "additional_special_tokens": ["<a>", {"content": "<b>"}], "chat_template": [
		{"name": "default", "template": "D{{ messages|length }}{{ additional_special_tokens[1] }}"},
		{"name": "tool_use", "template": "T{{ eos_token }}"}]}`)
	for name, want := range map[string]string{"": "D1<b>", "default": "D1<b>", "tool_use": "T</s>"} {
		tpl, err := LoadTemplate(dir, name)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := tpl.Render([]Message{{"user", "x"}}, true); out != want || err != nil {
			t.Errorf("template %q: got %q, %v; want %q", name, out, err, want)
		}
	}
	if _, err := LoadTemplate(dir, "rag"); err == nil || !strings.Contains(err.Error(), "tool_use") {
		t.Errorf("unknown name: err = %v", err)
	}
}

func TestNegativeIndex(t *testing.T) {
	// gonja gives none for x[-len(x)]; ParseTemplate rewrites x[-N] so
	// that messages[-1] of a single message works, as in Python.
	src := "{{ messages[-1]['content'] }}|{{ messages[ -1 ].role }}|{{ 'a</t>b'.split('</t>')[-1] }}|{{ 'ab'.split('</t>')[-1] }}|{{ [-1][0] }}|{{ '[-1]' }}|[-1]"
	got := render(t, src, nil, []Message{{"user", "hi"}}, true)
	if want := "hi|user|b|ab|-1|[-1]|[-1]"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	got = render(t, "{% if add_generation_prompt and messages[-1]['role'] != 'assistant' %}A{% endif %}{{ messages[-2]['content'] }}", nil, []Message{{"user", "x"}, {"user", "y"}}, true)
	if got != "Ax" {
		t.Errorf("got %q", got)
	}
}
