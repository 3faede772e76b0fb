package lmtrain

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/kormed/kormed/chat"
	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/decoder"
	"github.com/kormed/kormed/hub"
	"github.com/kormed/kormed/hubdata"
)

// Record is one PubMedQA-Ko example: a question, the paper's contexts
// (abstract sections) and the long answer the model learns to write.
type Record struct {
	Question   string
	Contexts   []string
	LongAnswer string
}

// ReadJSONL reads records from a JSONL file, one object a line with
// "question", "contexts" (a string or a list of strings; "context" is
// accepted too) and "long_answer". Blank lines are skipped; errors name
// file:line.
func ReadJSONL(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 64<<20)
	var recs []Record
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		r, err := parseRecord(b)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", path, line+1, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%s: no records", path)
	}
	return recs, nil
}

func parseRecord(b []byte) (Record, error) {
	var raw struct {
		Question   *string         `json:"question"`
		Contexts   json.RawMessage `json:"contexts"`
		Context    json.RawMessage `json:"context"`
		LongAnswer *string         `json:"long_answer"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return Record{}, err
	}
	if raw.Question == nil || strings.TrimSpace(*raw.Question) == "" {
		return Record{}, errors.New(`"question" missing or empty`)
	}
	if raw.LongAnswer == nil || strings.TrimSpace(*raw.LongAnswer) == "" {
		return Record{}, errors.New(`"long_answer" missing or empty`)
	}
	ctxRaw, key := raw.Contexts, "contexts"
	if len(ctxRaw) == 0 || string(ctxRaw) == "null" {
		ctxRaw, key = raw.Context, "context"
	}
	r := Record{Question: *raw.Question, LongAnswer: *raw.LongAnswer}
	if len(ctxRaw) > 0 && string(ctxRaw) != "null" {
		var one string
		if err := json.Unmarshal(ctxRaw, &one); err == nil {
			r.Contexts = []string{one}
		} else if err := json.Unmarshal(ctxRaw, &r.Contexts); err != nil {
			return Record{}, fmt.Errorf("%q: want a string or a list of strings", key)
		}
	}
	return r, nil
}

// UserMessage is the Korean user turn of a record: its contexts, then the
// question.
func UserMessage(contexts, question string) string {
	var b strings.Builder
	b.WriteString("다음 논문 내용을 참고하여 질문에 답하세요.\n\n")
	if contexts != "" {
		b.WriteString("논문 내용:\n")
		b.WriteString(contexts)
		b.WriteString("\n\n")
	}
	b.WriteString("질문: ")
	b.WriteString(question)
	return b.String()
}

// Example is one tokenised training sequence: the prompt's ids, then the
// answer's and EOS. Labels mask the prompt (decoder.PromptLabels).
type Example struct {
	IDs       []int
	PromptLen int
}

// Labels are the example's causal-LM labels: the prompt masked with
// decoder.IgnoreIndex, the answer and EOS trained.
func (e Example) Labels() []int { return decoder.PromptLabels(e.IDs, e.PromptLen) }

// BuildStats counts what Build did to fit max_length.
type BuildStats struct {
	Examples  int // examples built
	Truncated int // examples whose contexts were cut to fit
	Skipped   int // records that did not fit even without contexts (dropped)
	Tokens    int // tokens in all examples
}

// Builder turns records into examples with a model's tokenizer and chat
// template.
type Builder struct {
	G         *chat.Generator
	MaxLength int // tokens per example (prompt + answer + EOS)
	eos       int
}

// NewBuilder makes a Builder; maxLength ≤ 0 or beyond the model's
// positions is capped at max_position_embeddings.
func NewBuilder(g *chat.Generator, maxLength int) (*Builder, error) {
	if maxLength <= 0 || maxLength > g.Model.Cfg.MaxPositions {
		maxLength = g.Model.Cfg.MaxPositions
	}
	b := &Builder{G: g, MaxLength: maxLength, eos: -1}
	// The EOS that ends an assistant turn: tokenizer_config.json's
	// eos_token (EXAONE's [|endofturn|], Llama-3-Instruct's <|eot_id|>)
	// when it is one token, else the model's first EOS id.
	if g.Template != nil {
		if s, ok := g.Template.Vars["eos_token"].(string); ok && s != "" {
			if ids := g.Encode(s, true); len(ids) == 1 {
				b.eos = ids[0]
			}
		}
	}
	if b.eos < 0 && len(g.EOS) > 0 {
		b.eos = g.EOS[0]
	}
	if b.eos < 0 {
		return nil, errors.New("the model has no EOS token (tokenizer_config.json eos_token or config.json eos_token_id)")
	}
	return b, nil
}

// EOS is the id appended to every answer.
func (b *Builder) EOS() int { return b.eos }

// Prompt renders the prompt text of contexts and a question: the chat
// template's user turn with the generation prompt, or for a model without
// a template the user message and "\n\n답변: ".
func (b *Builder) Prompt(contexts, question string) (string, error) {
	msg := UserMessage(contexts, question)
	if b.G.Template == nil {
		return msg + "\n\n답변: ", nil
	}
	return b.G.ChatPrompt("", msg)
}

// Example tokenises one record. When prompt and answer exceed MaxLength
// the contexts are cut from their end (never the question or the answer)
// and truncated is true; a record that does not fit even without contexts
// gives ok false.
func (b *Builder) Example(r Record) (ex Example, truncated, ok bool, err error) {
	ans := append(b.G.Encode(r.LongAnswer, true), b.eos)
	ctx := strings.Join(r.Contexts, "\n")
	encPrompt := func(c string) ([]int, error) {
		p, err := b.Prompt(c, r.Question)
		if err != nil {
			return nil, err
		}
		return b.G.Encode(p, true), nil
	}
	p, err := encPrompt(ctx)
	if err != nil {
		return Example{}, false, false, err
	}
	if len(p)+len(ans) > b.MaxLength {
		truncated = true
		cids := b.G.Encode(ctx, true)
		keep := len(cids) - (len(p) + len(ans) - b.MaxLength)
		for {
			if keep < 0 {
				keep = 0
			}
			c32 := make([]int32, keep)
			for i := range c32 {
				c32[i] = int32(cids[i])
			}
			text, err := b.G.Tok.Decode(c32, false)
			if err != nil {
				return Example{}, false, false, err
			}
			text = strings.TrimRight(validPrefix(text), " \n")
			if p, err = encPrompt(text); err != nil {
				return Example{}, false, false, err
			}
			over := len(p) + len(ans) - b.MaxLength
			if over <= 0 {
				break
			}
			if keep == 0 {
				return Example{}, true, false, nil
			}
			keep -= over
		}
	}
	ids := append(append(make([]int, 0, len(p)+len(ans)), p...), ans...)
	return Example{IDs: ids, PromptLen: len(p)}, truncated, true, nil
}

// validPrefix drops a trailing incomplete UTF-8 character (a cut through
// a byte-level token) and the replacement characters decoding left.
func validPrefix(s string) string {
	for len(s) > 0 {
		r, size := utf8.DecodeLastRuneInString(s)
		if r != utf8.RuneError || size > 1 {
			break
		}
		s = s[:len(s)-size]
	}
	return strings.TrimRight(s, "\uFFFD")
}

// Build tokenises every record.
func (b *Builder) Build(recs []Record) ([]Example, BuildStats, error) {
	var st BuildStats
	var out []Example
	for i, r := range recs {
		ex, tr, ok, err := b.Example(r)
		if err != nil {
			return nil, st, fmt.Errorf("record %d: %w", i+1, err)
		}
		if !ok {
			st.Skipped++
			continue
		}
		if tr {
			st.Truncated++
		}
		st.Tokens += len(ex.IDs)
		out = append(out, ex)
	}
	st.Examples = len(out)
	if len(out) == 0 {
		return nil, st, fmt.Errorf("no record fits max_length %d (%d skipped)", b.MaxLength, st.Skipped)
	}
	return out, st, nil
}

// ReadData reads the records of a data argument: a JSONL file
// (ReadJSONL), or a Hub dataset hf://OWNER/NAME[:CONFIG][@REVISION] of its
// only split (else train), in any format package dataset reads, with the
// columns question, contexts (or context; a list or a string) and
// long_answer (or answer) matched case-insensitively — PubMedQA-Ko's
// QUESTION, CONTEXTS, LONG_ANSWER as they are.
func ReadData(ctx context.Context, data string, log io.Writer) ([]Record, error) {
	if !hubdata.IsRef(data) {
		return ReadJSONL(data)
	}
	files, err := hubdata.Files(ctx, data, "", hub.Options{Log: log, Progress: os.Stderr})
	if err != nil {
		return nil, err
	}
	if log != nil {
		fmt.Fprintf(log, "data: %s: %s\n", files.Describe(), strings.Join(files.Names, ", "))
	}
	var recs []Record
	for _, p := range files.Paths {
		t, err := dataset.OpenTable(p)
		if err != nil {
			return nil, err
		}
		b, err := t.Bind(data, nil,
			dataset.Want{Role: "question", Names: []string{"question", "query"}, Required: true},
			dataset.Want{Role: "contexts", Names: []string{"contexts", "context"}},
			dataset.Want{Role: "long_answer", Names: []string{"long_answer", "answer"}, Required: true})
		if err == nil {
			err = t.Each(func(row map[string]any) error {
				where := fmt.Sprintf("%s row %d", t.Path, t.Row)
				var r Record
				var err error
				if r.Question, err = dataset.Text(row[b["question"]]); err != nil || strings.TrimSpace(r.Question) == "" {
					return fmt.Errorf("%s: column %s missing or empty", where, b["question"])
				}
				if r.LongAnswer, err = dataset.Text(row[b["long_answer"]]); err != nil || strings.TrimSpace(r.LongAnswer) == "" {
					return fmt.Errorf("%s: column %s missing or empty", where, b["long_answer"])
				}
				if c, ok := b["contexts"]; ok {
					if r.Contexts, err = dataset.Texts(row[c]); err != nil {
						return fmt.Errorf("%s: column %s: %w", where, c, err)
					}
				}
				recs = append(recs, r)
				return nil
			})
		}
		t.Close()
		if err != nil {
			return nil, err
		}
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%s: no records", data)
	}
	return recs, nil
}
