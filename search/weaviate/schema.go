package weaviate

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/weaviate/weaviate/entities/models"

	"github.com/kormed/kormed/analysis"
	"github.com/kormed/kormed/bm25"
	"github.com/kormed/kormed/fusion"
	"github.com/kormed/kormed/search"
)

// Property names of a kormed class. Keyword fields become text[]
// properties named fieldPrefix + encodeField(name).
const (
	propDocID    = "doc_id"    // the kormed document id (field tokenization, filterable)
	propTitle    = "title"     // stored, not indexed (kagome_kr and BM25-searchable in a legacy class)
	propText     = "text"      // stored, not indexed (kagome_kr and BM25-searchable in a legacy class)
	propTerms    = "terms"     // kormed's analysed terms of title and text (whitespace, BM25)
	propDURTypes = "dur_types" // text[] of the DUR types (field tokenization, filterable)
	propDURJSON  = "dur_json"  // the []dur.Flag as JSON, not indexed
	fieldPrefix  = "f_"
)

// LegacyAnalyzer is the analyzer of a legacy class (metadata version 1):
// Weaviate's kagome_kr tokenization of the title and text properties,
// which BM25 searched.
const LegacyAnalyzer = "kagome_kr"

// metaVersion is the version of the class description's layout: 1 is a
// legacy class (title and text tokenized by Weaviate with kagome_kr and
// searched by BM25), 2 a class whose BM25 property is terms, holding the
// output of kormed's analyzer (Analyzer, AnalyzerVersion).
const metaVersion = 2

// meta is what a class's description records about the index.
type meta struct {
	Kormed int              `json:"kormed"`
	Model  search.ModelInfo `json:"model"`
	// Analyzer is the package analysis analyzer of the terms property
	// (LegacyAnalyzer in a version 1 class), AnalyzerVersion its
	// Version() when the class was created (version 2).
	Analyzer        string `json:"analyzer"`
	AnalyzerVersion int    `json:"analyzer_version,omitempty"`
	// K1 and B are the BM25 parameters the class was created with
	// (its invertedIndexConfig.bm25; version 2).
	K1        float64 `json:"k1,omitempty"`
	B         float64 `json:"b,omitempty"`
	Generated string  `json:"generated,omitempty"`
	// Calibration is the hybrid fusion kormed index calibrated on the
	// index's documents (Backend.SetCalibration), absent when none. An
	// optional field of layout version 1: builds without it ignore it.
	Calibration *fusion.Calibration `json:"calibration,omitempty"`
}

func (m meta) description() string {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // strings, ints and a calibration checked by checkCalibration
	}
	return string(b)
}

// checkCalibration rejects a calibration the description cannot hold
// (a NaN or infinite score).
func checkCalibration(c *fusion.Calibration) error {
	if _, err := json.Marshal(c); err != nil {
		return fmt.Errorf("weaviate: calibration: %w", err)
	}
	return nil
}

func parseMeta(class string, description string) (meta, error) {
	var m meta
	if err := json.Unmarshal([]byte(description), &m); err != nil || m.Kormed == 0 {
		return meta{}, fmt.Errorf("weaviate: class %s is not a kormed index (its description is not kormed metadata)", class)
	}
	if m.Kormed > metaVersion {
		return meta{}, fmt.Errorf("weaviate: class %s has kormed metadata version %d; this build reads up to %d", class, m.Kormed, metaVersion)
	}
	if (m.Kormed == 1) != (m.Analyzer == LegacyAnalyzer) {
		return meta{}, fmt.Errorf("weaviate: class %s: kormed metadata version %d with analyzer %q", class, m.Kormed, m.Analyzer)
	}
	return m, nil
}

// newMeta is the metadata of a class Open creates with opts.
func newMeta(opts Options) (meta, error) {
	an, err := analysis.New(opts.Analyzer)
	if err != nil {
		return meta{}, fmt.Errorf("weaviate: %w", err)
	}
	m := meta{Kormed: metaVersion, Analyzer: an.Name(), AnalyzerVersion: an.Version(),
		K1: opts.K1, B: opts.B, Generated: opts.Generated}
	if m.K1 == 0 {
		m.K1 = bm25.DefaultK1
	}
	if m.B == 0 {
		m.B = bm25.DefaultB
	}
	if !(m.K1 > 0) || math.IsInf(m.K1, 0) || !(m.B >= 0 && m.B <= 1) {
		return meta{}, fmt.Errorf("weaviate: BM25 k1 %v, b %v: want k1 > 0 and b in [0, 1]", m.K1, m.B)
	}
	return m, nil
}

// legacy reports whether the class is a legacy one (metadata version 1),
// whose BM25 is Weaviate's kagome_kr on title and text.
func (m meta) legacy() bool { return m.Kormed == 1 }

// analyzer returns the package analysis analyzer of a version 2 class,
// refusing one this build does not know or whose output has changed
// since the class was built.
func (m meta) analyzer(class string) (analysis.Analyzer, error) {
	an, err := analysis.New(m.Analyzer)
	if err != nil || m.Analyzer == "" {
		return nil, fmt.Errorf("weaviate: class %s was built with analyzer %q, which this kormed does not know (it has %s)", class, m.Analyzer, strings.Join(analysis.Names(), ", "))
	}
	if an.Version() != m.AnalyzerVersion {
		return nil, fmt.Errorf("weaviate: class %s was built with %s analyzer version %d, this kormed has version %d: re-run kormed index --backend weaviate into a new class", class, m.Analyzer, m.AnalyzerVersion, an.Version())
	}
	return an, nil
}

// docTerms is the terms property of a document: an's terms of the text
// the embedded index's BM25 indexes (fusion.DocText), joined by spaces
// (no term holds a space: the analyzers split on everything that is not
// a letter or digit).
func docTerms(an analysis.Analyzer, title, text string) string {
	return strings.Join(an.Analyze(nil, fusion.DocText(title, text)), " ")
}

// queryTerms is a query for the terms property: an's terms of q joined by
// spaces; "" when q has none.
func queryTerms(an analysis.Analyzer, q string) string {
	return strings.Join(an.Analyze(nil, q), " ")
}

// sameModel reports whether two model descriptions name the same embedding
// space: vectors of one cannot be searched with queries of the other.
func sameModel(a, b search.ModelInfo) bool {
	return a.Name == b.Name && a.Revision == b.Revision && a.Dim == b.Dim &&
		a.Pooling == b.Pooling && a.Query == b.Query && a.Passage == b.Passage
}

func describeModel(m search.ModelInfo) string {
	if m.Name == "" && m.Dim == 0 {
		return "no model (BM25 only)"
	}
	s := fmt.Sprintf("%s (dim %d", m.Name, m.Dim)
	if m.Revision != "" {
		s += ", revision " + m.Revision
	}
	if m.Pooling != "" {
		s += ", " + m.Pooling + " pooling"
	}
	return s + fmt.Sprintf(", prefixes %q/%q)", m.Query, m.Passage)
}

// validClassName reports whether name is a Weaviate class name:
// a capital letter then letters, digits and underscores.
func validClassName(name string) bool {
	if name == "" || len(name) > 230 || name[0] < 'A' || name[0] > 'Z' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// encodeField turns a field name into the tail of a property name.
// Weaviate property names allow only [_0-9A-Za-z]; ASCII letters and
// digits are kept, '_' becomes "__" and every other byte "_xx" (lower-case
// hex), so the mapping is injective and decodeField inverts it.
func encodeField(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b.WriteByte(c)
		case c == '_':
			b.WriteString("__")
		default:
			fmt.Fprintf(&b, "_%02x", c)
		}
	}
	return b.String()
}

// decodeField inverts encodeField.
func decodeField(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '_' {
			b.WriteByte(c)
			continue
		}
		if i+1 < len(s) && s[i+1] == '_' {
			b.WriteByte('_')
			i++
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", false
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), true
}

// fieldProp is the property name of a keyword field.
func fieldProp(field string) string { return fieldPrefix + encodeField(field) }

// propField is the field of a property name, if it is a field property.
func propField(prop string) (string, bool) {
	if !strings.HasPrefix(prop, fieldPrefix) {
		return "", false
	}
	return decodeField(prop[len(fieldPrefix):])
}

// docNamespace is the UUID v5 namespace of kormed document ids.
var docNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/kormed/kormed/weaviate/doc"))

// ObjectID is the Weaviate object id of a kormed document id: a UUID v5
// (SHA-1, name-based) of the id, so that the same document always has the
// same object and an upsert replaces it.
func ObjectID(docID string) string {
	return uuid.NewSHA1(docNamespace, []byte(docID)).String()
}

func boolPtr(b bool) *bool { return &b }

// textProp is a text property with the given indexes.
func textProp(name, dataType, tokenization string, filterable, searchable bool, description string) *models.Property {
	return &models.Property{
		Name:            name,
		DataType:        []string{dataType},
		Tokenization:    tokenization,
		IndexFilterable: boolPtr(filterable),
		IndexSearchable: boolPtr(searchable),
		Description:     description,
	}
}

func fieldProperty(field string) *models.Property {
	return textProp(fieldProp(field), "text[]", "field", true, false, "kormed keyword field "+field)
}

// newClass is the schema of a kormed index (metadata version 2): BM25 on
// the terms property with kormed's k1 and b, stopwords none (kormed's
// analyzer decides what is a term).
func newClass(name string, m meta, vectorIndex string) *models.Class {
	return &models.Class{
		Class:           name,
		Description:     m.description(),
		Vectorizer:      "none",
		VectorIndexType: vectorIndex,
		// Vectors are L2-normalised, so cosine distance is 1 - dot product.
		VectorIndexConfig: map[string]interface{}{"distance": "cosine"},
		InvertedIndexConfig: &models.InvertedIndexConfig{
			Bm25:      &models.BM25Config{K1: float32(m.K1), B: float32(m.B)},
			Stopwords: &models.StopwordConfig{Preset: "none"},
		},
		Properties: []*models.Property{
			textProp(propDocID, "text", "field", true, false, "kormed document id"),
			textProp(propTitle, "text", "word", false, false, "title"),
			textProp(propText, "text", "word", false, false, "text"),
			textProp(propTerms, "text", "whitespace", false, true, "kormed's "+m.Analyzer+" analyzer terms of title and text (BM25)"),
			textProp(propDURTypes, "text[]", "field", true, false, "DUR types of the product"),
			textProp(propDURJSON, "text", "field", false, false, "DUR flags as JSON"),
		},
	}
}

// checkClass verifies that an existing class has the kormed properties of
// its layout (legacy: metadata version 1) and returns its keyword fields
// (decoded field name -> property name).
func checkClass(c *models.Class, legacy bool) (map[string]string, error) {
	need := map[string]string{propDocID: "field", propTitle: "", propText: "", propTerms: "whitespace", propDURTypes: "field", propDURJSON: ""}
	if legacy {
		need[propTitle], need[propText] = LegacyAnalyzer, LegacyAnalyzer
		delete(need, propTerms)
	}
	fields := map[string]string{}
	for _, p := range c.Properties {
		if tok, ok := need[p.Name]; ok {
			if tok != "" && p.Tokenization != tok {
				return nil, fmt.Errorf("weaviate: class %s: property %s has tokenization %q, want %q", c.Class, p.Name, p.Tokenization, tok)
			}
			delete(need, p.Name)
			continue
		}
		if f, ok := propField(p.Name); ok {
			fields[f] = p.Name
		}
	}
	if len(need) > 0 {
		var missing []string
		for n := range need {
			missing = append(missing, n)
		}
		sort.Strings(missing)
		return nil, fmt.Errorf("weaviate: class %s lacks the kormed properties %s", c.Class, strings.Join(missing, ", "))
	}
	return fields, nil
}

// setLayout gives a new class its shard count (0: Weaviate's default, one
// per node; Open passes DefaultShards) and replication factor. A replicated class (factor > 1) also
// gets asynchronous replication, so that a node that was away catches up
// on the writes it missed in the background rather than only when a read
// repairs them, and time-based resolution of deletions, so that between a
// delete and a write of the same object the later one wins (Weaviate's
// default leaves such conflicts unresolved). It needs tombstones that
// carry their time, which Delete sends (batchDelete). DeleteOnConflict
// would also keep deletes made while a replica was away, but it resolves
// every conflict with a tombstone as a delete: a document deleted, then
// written again while a replica was away, is deleted again on every node
// when that replica returns (TestClusterRestartNode, measured).
func setLayout(c *models.Class, shards, replicas int) {
	if shards > 0 {
		c.ShardingConfig = map[string]interface{}{"desiredCount": shards}
	}
	if replicas > 1 {
		c.ReplicationConfig = &models.ReplicationConfig{
			Factor:           int64(replicas),
			AsyncEnabled:     true,
			DeletionStrategy: models.ReplicationConfigDeletionStrategyTimeBasedResolution,
		}
	} else if replicas == 1 {
		c.ReplicationConfig = &models.ReplicationConfig{Factor: 1}
	}
}

// classLayout is an existing class's shard count and replication factor.
func classLayout(c *models.Class) (shards, replicas int) {
	replicas = 1
	if c.ReplicationConfig != nil && c.ReplicationConfig.Factor > 0 {
		replicas = int(c.ReplicationConfig.Factor)
	}
	if sc, ok := c.ShardingConfig.(map[string]interface{}); ok {
		for _, key := range []string{"actualCount", "desiredCount"} {
			if n := jsonInt(sc[key]); n > 0 {
				return n, replicas
			}
		}
	}
	return 1, replicas
}

func jsonInt(v interface{}) int {
	switch x := v.(type) {
	case float64:
		return int(x)
	case int:
		return x
	case int64:
		return int(x)
	case json.Number:
		n, _ := x.Int64()
		return int(n)
	}
	return 0
}

// describeLayout names an asked-for layout (0: not asked).
func describeLayout(shards, replicas int) string {
	var parts []string
	if shards > 0 {
		parts = append(parts, fmt.Sprintf("%d shards", shards))
	}
	if replicas > 0 {
		parts = append(parts, fmt.Sprintf("%d replicas", replicas))
	}
	return strings.Join(parts, " and ")
}
