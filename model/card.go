package model

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// card is the README.md model card Save writes: YAML front matter as the
// Hugging Face Hub reads it (base_model, language, license, library_name
// sentence-transformers, pipeline_tag sentence-similarity, tags,
// datasets), then what the model is, its architecture as
// sentence-transformers prints it, usage with sentence-transformers and
// with kormed, the training recipe, the data with attribution and the
// metrics. o.Name must be set.
func (m *Model) card(o SaveOptions) []byte {
	var b strings.Builder
	cfg := &m.Enc.Cfg
	_, arch := savedArchitecture(cfg.ModelType)

	// Front matter.
	b.WriteString("---\n")
	if o.BaseModel != "" {
		fmt.Fprintf(&b, "base_model: %s\n", yamlScalar(o.BaseModel))
	}
	if len(o.Datasets) > 0 {
		b.WriteString("datasets:\n")
		for _, d := range o.Datasets {
			fmt.Fprintf(&b, "- %s\n", yamlScalar(d))
		}
	}
	if o.Language != "" {
		fmt.Fprintf(&b, "language:\n- %s\n", yamlScalar(o.Language))
	}
	b.WriteString("library_name: sentence-transformers\n")
	if o.License != "" {
		fmt.Fprintf(&b, "license: %s\n", yamlScalar(o.License))
	}
	b.WriteString("pipeline_tag: sentence-similarity\ntags:\n")
	seen := map[string]bool{}
	for _, t := range append([]string{"sentence-transformers", "sentence-similarity", "feature-extraction", "dense", "kormed"}, o.Tags...) {
		if t != "" && !seen[t] {
			seen[t] = true
			fmt.Fprintf(&b, "- %s\n", yamlScalar(t))
		}
	}
	b.WriteString("---\n\n")

	// What it is.
	fmt.Fprintf(&b, "# %s\n\n", o.Name)
	b.WriteString("This is a [sentence-transformers](https://www.SBERT.net) model")
	if o.BaseModel != "" {
		fmt.Fprintf(&b, " fine-tuned from [%s](https://huggingface.co/%s)", o.BaseModel, o.BaseModel)
	}
	fmt.Fprintf(&b, " with [kormed](https://github.com/kormed/kormed). It maps sentences and passages to a %d-dimensional dense vector space for semantic search.\n\n", m.Dim())
	b.WriteString("## Model details\n\n- **Model type:** Sentence Transformer\n")
	if o.BaseModel != "" {
		fmt.Fprintf(&b, "- **Base model:** [%s](https://huggingface.co/%s)\n", o.BaseModel, o.BaseModel)
	}
	fmt.Fprintf(&b, "- **Maximum sequence length:** %d tokens\n", m.MaxLength)
	fmt.Fprintf(&b, "- **Output dimensionality:** %d dimensions\n", m.Dim())
	b.WriteString("- **Similarity function:** cosine similarity\n")
	if m.QueryPrefix != "" || m.PassagePrefix != "" {
		fmt.Fprintf(&b, "- **Prompts:** query %s, passage %s\n", strconv.Quote(m.QueryPrefix), strconv.Quote(m.PassagePrefix))
	}
	if o.Language != "" {
		fmt.Fprintf(&b, "- **Language:** %s\n", o.Language)
	}
	if o.License != "" {
		fmt.Fprintf(&b, "- **License:** %s\n", o.License)
	}
	b.WriteString("\n### Full model architecture\n\n```\nSentenceTransformer(\n")
	fmt.Fprintf(&b, "  (0): Transformer({'max_seq_length': %d, 'do_lower_case': False}) with Transformer model: %s\n", m.MaxLength, arch)
	fmt.Fprintf(&b, "  (1): Pooling({'word_embedding_dimension': %d, 'pooling_mode_cls_token': %s, 'pooling_mode_mean_tokens': %s, 'pooling_mode_max_tokens': False, 'pooling_mode_mean_sqrt_len_tokens': False, 'pooling_mode_weightedmean_tokens': False, 'pooling_mode_lasttoken': False, 'include_prompt': True})\n",
		m.Dim(), pyBool(m.Pooling == PoolCLS), pyBool(m.Pooling == PoolMean))
	if m.Normalize {
		b.WriteString("  (2): Normalize()\n")
	}
	b.WriteString(")\n```\n\n")

	// Usage.
	q, p := `"What is acetaminophen used for?"`, `"Acetaminophen relieves pain and reduces fever."`
	if o.Language == "ko" {
		q, p = `"타이레놀의 효능은?"`, `"타이레놀정은 해열 및 진통에 사용합니다."`
	}
	b.WriteString("## Usage\n\n### sentence-transformers\n\n```bash\npip install -U sentence-transformers\n```\n\n```python\nfrom sentence_transformers import SentenceTransformer\n\n")
	fmt.Fprintf(&b, "model = SentenceTransformer(%s)\n", strconv.Quote(o.Name))
	// encode_query and encode_document (sentence-transformers ≥ 5) apply
	// the "query" and "document" prompts.
	fmt.Fprintf(&b, "queries = model.encode_query([%s])\npassages = model.encode_document([%s])\n", q, p)
	fmt.Fprintf(&b, "print(queries.shape)  # (1, %d)\nprint(model.similarity(queries, passages))\n```\n\n", m.Dim())
	b.WriteString("### kormed\n\n```bash\n")
	fmt.Fprintf(&b, "kormed embed --model %s --input queries.txt --as query --output queries.npy\n", shellWord(o.Name))
	fmt.Fprintf(&b, "kormed embed --model %s --input passages.jsonl --field text --as passage --output passages.npy\n", shellWord(o.Name))
	b.WriteString("```\n")

	if strings.TrimSpace(o.Recipe) != "" {
		fmt.Fprintf(&b, "\n## Training\n\n%s\n", strings.TrimSpace(o.Recipe))
	}
	if len(o.Data) > 0 {
		b.WriteString("\n## Training data\n\n")
		for _, d := range o.Data {
			fmt.Fprintf(&b, "- %s\n", strings.TrimSpace(d))
		}
	}
	if len(o.Metrics) > 0 {
		b.WriteString("\n## Evaluation\n\n| Dataset | Metric | Value |\n| --- | --- | ---: |\n")
		for _, r := range o.Metrics {
			fmt.Fprintf(&b, "| %s | %s | %.4f |\n", mdCell(r.Dataset), mdCell(r.Name), r.Value)
		}
	}
	return []byte(b.String())
}

var yamlPlain = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/@+-]*$`)

// yamlScalar writes s as a YAML scalar: plain when it is a simple word
// that YAML reads back as the same string, double-quoted otherwise.
//
//	yamlScalar("intfloat/multilingual-e5-small") → intfloat/multilingual-e5-small
//	yamlScalar("yes")                            → "yes"
//	yamlScalar("a: b")                           → "a: b"
func yamlScalar(s string) string {
	switch strings.ToLower(s) {
	case "yes", "no", "on", "off", "true", "false", "null", "y", "n":
		return strconv.Quote(s)
	}
	if yamlPlain.MatchString(s) {
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return s
		}
	}
	return strconv.Quote(s) // Go's escapes are valid YAML double-quoted escapes
}

func pyBool(v bool) string {
	if v {
		return "True"
	}
	return "False"
}

// mdCell escapes a markdown table cell.
func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// shellWord quotes s for a POSIX shell when it needs quoting.
func shellWord(s string) string {
	if yamlPlain.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
