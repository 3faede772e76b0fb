package dataset

// Doc is one corpus document.
type Doc struct {
	ID    string `json:"_id"`
	Title string `json:"title"`
	Text  string `json:"text"`
}

// Query is one query.
type Query struct {
	ID   string `json:"_id"`
	Text string `json:"text"`
}

// Qrels maps query id → document id → graded relevance (>0 is relevant).
type Qrels map[string]map[string]int

// Dataset is a corpus, its queries and their relevance judgements.
type Dataset struct {
	Name    string
	Corpus  []Doc
	Queries []Query
	Qrels   Qrels
}
