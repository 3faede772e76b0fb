package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"
)

// Message is one turn of a conversation.
type Message struct {
	Role    string `json:"role"`    // "system", "user", "assistant", ...
	Content string `json:"content"` // the text
}

// ErrNoTemplate is returned by LoadTemplate when a model has no chat
// template (kormed guesses none: pass one explicitly, e.g. kormed generate
// --template FILE).
var ErrNoTemplate = errors.New("chat: the model has no chat template (tokenizer_config.json has no chat_template and there is no chat_template.jinja)")

// TemplateError is an error raised by the template itself with
// raise_exception (e.g. "Conversation roles must alternate ...").
type TemplateError struct{ Msg string }

func (e *TemplateError) Error() string { return "chat template: " + e.Msg }

// Template is a parsed chat template with the special tokens it is rendered
// with. It is safe for concurrent use.
type Template struct {
	// Source is the Jinja text.
	Source string
	// Vars are the variables besides messages and add_generation_prompt:
	// bos_token, eos_token, the other *_token strings and
	// additional_special_tokens of tokenizer_config.json. Set them before
	// the first Render.
	Vars map[string]any
	tpl  *exec.Template
}

// hfConfig is the Jinja configuration of transformers' chat templates:
// ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True).
func hfConfig() *config.Config {
	c := config.New()
	c.TrimBlocks = true
	c.LeftStripBlocks = true
	return c
}

// ParseTemplate parses a chat template's Jinja text.
func ParseTemplate(src string) (*Template, error) {
	loader, err := loaders.NewFileSystemLoader("")
	if err != nil {
		return nil, err
	}
	shifted, err := loaders.NewShiftedLoader("chat_template", strings.NewReader(fixNegativeIndex(src)), loader)
	if err != nil {
		return nil, err
	}
	env := &exec.Environment{
		Context:           exec.EmptyContext().Update(builtins.GlobalFunctions).Update(builtins.GlobalVariables),
		Filters:           builtins.Filters,
		Tests:             builtins.Tests,
		ControlStructures: builtins.ControlStructures,
		Methods:           builtins.Methods,
	}
	tpl, err := exec.NewTemplate("chat_template", hfConfig(), shifted, env)
	if err != nil {
		return nil, fmt.Errorf("chat: parsing the template: %w", err)
	}
	return &Template{Source: src, Vars: map[string]any{}, tpl: tpl}, nil
}

// Render renders the conversation; addGenerationPrompt asks the template
// to end with the assistant's header so the model writes the next turn.
func (t *Template) Render(msgs []Message, addGenerationPrompt bool) (string, error) {
	list := make([]any, len(msgs))
	for i, m := range msgs {
		list[i] = map[string]any{"role": m.Role, "content": m.Content}
	}
	var raised *TemplateError
	data := map[string]any{}
	for k, v := range t.Vars {
		data[k] = v
	}
	for _, k := range []string{"bos_token", "eos_token"} {
		if _, ok := data[k]; !ok {
			data[k] = ""
		}
	}
	data["messages"] = list
	data["add_generation_prompt"] = addGenerationPrompt
	data["raise_exception"] = func(msg string) (string, error) {
		raised = &TemplateError{Msg: msg}
		return "", raised
	}
	out, err := t.tpl.ExecuteToString(exec.NewContext(data))
	if raised != nil {
		return "", raised
	}
	if err != nil {
		return "", fmt.Errorf("chat: rendering the template: %w", err)
	}
	return out, nil
}

// LoadTemplate reads the chat template of the model folder dir:
// tokenizer_config.json's chat_template (name picks one of the list form's
// named templates; "" is "default", or the only one), else
// chat_template.jinja. Its Vars are tokenizer_config.json's special tokens.
// A model without a template gives ErrNoTemplate.
func LoadTemplate(dir, name string) (*Template, error) {
	cfg, err := readTokenizerConfig(dir)
	if err != nil {
		return nil, err
	}
	src, err := pickTemplate(cfg["chat_template"], name)
	if err != nil {
		return nil, err
	}
	if src == "" {
		b, err := os.ReadFile(filepath.Join(dir, "chat_template.jinja"))
		if errors.Is(err, os.ErrNotExist) {
			return nil, ErrNoTemplate
		}
		if err != nil {
			return nil, err
		}
		src = string(b)
	}
	t, err := ParseTemplate(src)
	if err != nil {
		return nil, err
	}
	t.Vars = SpecialTokens(cfg)
	return t, nil
}

// readTokenizerConfig reads dir/tokenizer_config.json (an empty map when
// the file is absent).
func readTokenizerConfig(dir string) (map[string]any, error) {
	b, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
	if errors.Is(err, os.ErrNotExist) {
		return map[string]any{}, nil
	}
	if err != nil {
		return nil, err
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("chat: tokenizer_config.json: %w", err)
	}
	return cfg, nil
}

// pickTemplate returns the template text of a chat_template value: a
// string, or a list of {"name", "template"} (name "" picks "default", or
// the only entry). A missing value gives "".
func pickTemplate(v any, name string) (string, error) {
	switch v := v.(type) {
	case nil:
		if name != "" {
			return "", fmt.Errorf("chat: no chat template named %q (the model has no named templates)", name)
		}
		return "", nil
	case string:
		if name != "" && name != "default" {
			return "", fmt.Errorf("chat: no chat template named %q (the model has a single template)", name)
		}
		return v, nil
	case []any:
		var names []string
		byName := map[string]string{}
		for _, e := range v {
			m, _ := e.(map[string]any)
			n, _ := m["name"].(string)
			s, _ := m["template"].(string)
			names = append(names, n)
			byName[n] = s
		}
		want := name
		if want == "" {
			want = "default"
			if len(names) == 1 {
				want = names[0]
			}
		}
		s, ok := byName[want]
		if !ok {
			return "", fmt.Errorf("chat: no chat template named %q (have %s)", want, strings.Join(names, ", "))
		}
		return s, nil
	}
	return "", fmt.Errorf("chat: chat_template is a %T, want a string or a list of named templates", v)
}

// SpecialTokens returns the Jinja variables a template sees from a parsed
// tokenizer_config.json: every *_token key as a string (the AddedToken
// object form {"content": ...} too) and additional_special_tokens as a
// list of strings.
func SpecialTokens(cfg map[string]any) map[string]any {
	str := func(v any) (string, bool) {
		switch v := v.(type) {
		case string:
			return v, true
		case map[string]any:
			s, ok := v["content"].(string)
			return s, ok
		}
		return "", false
	}
	vars := map[string]any{}
	for k, v := range cfg {
		if strings.HasSuffix(k, "_token") {
			if s, ok := str(v); ok {
				vars[k] = s
			}
		}
	}
	if l, ok := cfg["additional_special_tokens"].([]any); ok {
		var out []any
		for _, v := range l {
			if s, ok := str(v); ok {
				out = append(out, s)
			}
		}
		vars["additional_special_tokens"] = out
	}
	return vars
}

// LoadTemplateVars returns the special-token variables of dir's
// tokenizer_config.json (see SpecialTokens), for a template given
// separately from the model.
func LoadTemplateVars(dir string) (map[string]any, error) {
	cfg, err := readTokenizerConfig(dir)
	if err != nil {
		return nil, err
	}
	return SpecialTokens(cfg), nil
}

// fixNegativeIndex rewrites the subscripts x[-N] in a template's tags
// (outside string literals) to x[-N:][0]: gonja v2.9.1 returns none for
// x[-len(x)] (messages[-1] of a one-message conversation), while its
// slices are right. Both forms mean the same in Python for a non-empty x.
func fixNegativeIndex(src string) string {
	var b strings.Builder
	inTag := false
	var quote byte
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case !inTag:
			if c == '{' && i+1 < len(src) && (src[i+1] == '{' || src[i+1] == '%') {
				inTag = true
				b.WriteString(src[i : i+2])
				i++
				continue
			}
		case quote != 0:
			if c == '\\' && i+1 < len(src) {
				b.WriteString(src[i : i+2])
				i++
				continue
			}
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case (c == '}' || c == '%') && i+1 < len(src) && src[i+1] == '}':
			inTag = false
			b.WriteString(src[i : i+2])
			i++
			continue
		case c == '[':
			if n, ok := negIndex(src[i:]); ok && subscriptable(src[:i]) {
				b.WriteString(strings.Replace(src[i:i+n], "]", ":][0]", 1))
				i += n - 1
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// negIndex reports whether s starts with "[-digits]" (spaces allowed) and
// its length.
func negIndex(s string) (int, bool) {
	i := 1
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i >= len(s) || s[i] != '-' {
		return 0, false
	}
	i++
	d := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == d {
		return 0, false
	}
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i >= len(s) || s[i] != ']' {
		return 0, false
	}
	return i + 1, true
}

// subscriptable reports whether the text before a '[' ends with an
// expression (a name, a call, a subscript or a string), so that the '['
// subscripts it rather than opening a list.
func subscriptable(before string) bool {
	t := strings.TrimRight(before, " ")
	if t == "" {
		return false
	}
	c := t[len(t)-1]
	return c == '_' || c == ')' || c == ']' || c == '\'' || c == '"' ||
		c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
