package model

import "encoding/json"

// DropoutRates are config.json's hidden_dropout_prob and
// attention_probs_dropout_prob, the rates training applies (BertConfig's
// default 0.1 for a key the file omits; 0 for a Config built in code).
func (c *Config) DropoutRates() (hidden, attention float32) {
	if c.raw == nil {
		return 0, 0
	}
	r := struct {
		Hidden    *float64 `json:"hidden_dropout_prob"`
		Attention *float64 `json:"attention_probs_dropout_prob"`
	}{}
	json.Unmarshal(c.raw, &r) // ReadConfig already parsed it
	hidden, attention = 0.1, 0.1
	if r.Hidden != nil {
		hidden = float32(*r.Hidden)
	}
	if r.Attention != nil {
		attention = float32(*r.Attention)
	}
	return hidden, attention
}
