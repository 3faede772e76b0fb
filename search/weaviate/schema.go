package weaviate

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/weaviate/weaviate/entities/models"

	"github.com/kormed/kormed/fusion"
	"github.com/kormed/kormed/search"
)

// Property names of a kormed class. Keyword fields become text[]
// properties named fieldPrefix + encodeField(name).
const (
	propDocID    = "doc_id"    // the kormed document id (field tokenization, filterable)
	propTitle    = "title"     // kagome_kr, searchable (BM25)
	propText     = "text"      // kagome_kr, searchable (BM25)
	propDURTypes = "dur_types" // text[] of the DUR types (field tokenization, filterable)
	propDURJSON  = "dur_json"  // the []dur.Flag as JSON, not indexed
	fieldPrefix  = "f_"
)

// Analyzer is the tokenization of the title and text properties.
const Analyzer = "kagome_kr"

// metaVersion is the version of the class description's layout.
const metaVersion = 1

// meta is what a class's description records about the index.
type meta struct {
	Kormed    int              `json:"kormed"`
	Model     search.ModelInfo `json:"model"`
	Analyzer  string           `json:"analyzer"`
	Generated string           `json:"generated,omitempty"`
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
	return m, nil
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

// newClass is the schema of a kormed index.
func newClass(name string, m meta, vectorIndex string) *models.Class {
	return &models.Class{
		Class:           name,
		Description:     m.description(),
		Vectorizer:      "none",
		VectorIndexType: vectorIndex,
		// Vectors are L2-normalised, so cosine distance is 1 - dot product.
		VectorIndexConfig: map[string]interface{}{"distance": "cosine"},
		Properties: []*models.Property{
			textProp(propDocID, "text", "field", true, false, "kormed document id"),
			textProp(propTitle, "text", Analyzer, false, true, "title (BM25, Korean morphemes)"),
			textProp(propText, "text", Analyzer, false, true, "text (BM25, Korean morphemes)"),
			textProp(propDURTypes, "text[]", "field", true, false, "DUR types of the product"),
			textProp(propDURJSON, "text", "field", false, false, "DUR flags as JSON"),
		},
	}
}

// checkClass verifies that an existing class has the kormed properties and
// returns its keyword fields (decoded field name -> property name).
func checkClass(c *models.Class) (map[string]string, error) {
	need := map[string]string{propDocID: "field", propTitle: Analyzer, propText: Analyzer, propDURTypes: "field", propDURJSON: ""}
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
// per node) and replication factor. A replicated class (factor > 1) also
// gets asynchronous replication, so that a node that was away catches up
// on the writes it missed in the background rather than only when a read
// repairs them, and time-based resolution of deletions, so that between a
// delete and a write of the same object the later one wins (Weaviate's
// default leaves such conflicts unresolved).
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
