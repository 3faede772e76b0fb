package hubdata

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/hub"
)

// IsRef reports whether a data argument names a Hub dataset (hf://…).
func IsRef(arg string) bool { return hub.IsDatasetRef(arg) }

// Files resolves a data argument hf://OWNER/NAME[:CONFIG][@REVISION][#SPLIT]
// and a split ("" = the only split, else train; a #SPLIT suffix takes
// precedence, see WithSplit) to downloaded files.
func Files(ctx context.Context, arg, split string, opts hub.Options) (*hub.DatasetFiles, error) {
	ref, split, err := parseRef(arg, split)
	if err != nil {
		return nil, err
	}
	return hub.DatasetSplit(ctx, ref, split, opts)
}

// LoadRetrieval reads a retrieval set in the MTEB / BEIR layout from the
// Hub: the corpus (config "corpus"), the queries (config "queries") and
// the qrels of split (the config named in arg, else the default config;
// e.g. qrels/test.tsv or a "test" split of parquet files). Corpus and
// queries are read from their only split (MTEB names it "corpus" and
// "queries"), or from split when they have several. split defaults to
// "test". cols maps roles (id, title, document, query) to other column
// names.
//
// A repository with no corpus config is read as question–answer pairs
// instead (PublicHealthQA's layout: hf://xhluca/publichealth-qa:korean,
// columns question and answer): the config's split gives one query and one
// relevant document a row, identical texts merged (dataset.ReadPairTables);
// note then says what was read.
//
// A #SPLIT suffix on arg takes precedence over split (WithSplit).
func LoadRetrieval(ctx context.Context, arg, split string, cols dataset.Columns, opts hub.Options) (d *dataset.Dataset, note string, err error) {
	ref, split, err := parseRef(arg, split)
	if err != nil {
		return nil, "", err
	}
	if split == "" {
		split = "test"
	}
	part := func(config, split string) (*hub.DatasetFiles, error) {
		r := ref.WithConfig(config)
		f, err := hub.DatasetSplit(ctx, r, "", opts)
		if errors.Is(err, hub.ErrNoData) && !errors.Is(err, hub.ErrNoConfig) {
			f, err = hub.DatasetSplit(ctx, r, split, opts)
		}
		if err != nil {
			return nil, fmt.Errorf("the %s of retrieval set %s: %w", config, ref, err)
		}
		return f, nil
	}
	corpus, err := part("corpus", split)
	if errors.Is(err, hub.ErrNoConfig) {
		pairs, perr := hub.DatasetSplit(ctx, ref, split, opts)
		if perr != nil {
			return nil, "", fmt.Errorf("%s has no corpus config (MTEB layout) and %w", ref, perr)
		}
		d, rep, err := dataset.ReadPairTables(ref.String(), pairs.Paths, cols)
		if err != nil {
			return nil, "", err
		}
		d.Name = DatasetName(ref)
		return d, "no corpus config: read as question–answer pairs; " + rep.String(), nil
	}
	if err != nil {
		return nil, "", err
	}
	queries, err := part("queries", split)
	if err != nil {
		return nil, "", err
	}
	qrels, err := hub.DatasetSplit(ctx, ref, split, opts)
	if err != nil {
		return nil, "", fmt.Errorf("the qrels of retrieval set %s: %w", ref, err)
	}
	d, err = dataset.ReadBEIRTables(dataset.BEIRTables{Name: ref.String(), Corpus: corpus.Paths, Queries: queries.Paths, Qrels: qrels.Paths, Columns: cols})
	if err != nil {
		return nil, "", err
	}
	d.Name = DatasetName(ref)
	return d, "", nil
}

// DatasetName is the name a Hub dataset gets on leaderboards and in file
// names: NAME, or NAME-CONFIG with a config.
func DatasetName(ref hub.DatasetRef) string {
	name := ref.ID[strings.LastIndexByte(ref.ID, '/')+1:]
	if ref.Config != "" && ref.Config != "default" {
		name += "-" + ref.Config
	}
	return name
}

// CorpusFiles resolves the documents of a Hub dataset for indexing: the
// config named in arg, else the "corpus" config when the repository has
// one (the MTEB layout), else its default config; split "" = the only one
// (a #SPLIT suffix on arg takes precedence, WithSplit).
func CorpusFiles(ctx context.Context, arg, split string, opts hub.Options) (*hub.DatasetFiles, error) {
	ref, split, err := parseRef(arg, split)
	if err != nil {
		return nil, err
	}
	if ref.Config == "" {
		f, err := hub.DatasetSplit(ctx, ref.WithConfig("corpus"), split, opts)
		if !errors.Is(err, hub.ErrNoConfig) {
			return f, err
		}
	}
	return hub.DatasetSplit(ctx, ref, split, opts)
}

// WithSplit applies a data argument's optional split suffix,
// SOURCE#SPLIT: hf://OWNER/NAME[:CONFIG][@REVISION][#SPLIT] (cut at the
// first '#', so a revision cannot hold one) or PATH#SPLIT (cut at the
// last '#', and only when PATH#SPLIT itself does not exist, so a local
// name with a '#' in it still reads as it is). It returns the argument
// without the suffix and the split it names, else fallback (the --split
// flag or a recipe's split). Applying it twice gives the same result.
func WithSplit(arg, fallback string) (source, split string, err error) {
	var i int
	if IsRef(arg) {
		i = strings.IndexByte(arg, '#')
	} else {
		if _, err := os.Stat(arg); err == nil {
			return arg, fallback, nil
		}
		i = strings.LastIndexByte(arg, '#')
	}
	if i < 0 {
		return arg, fallback, nil
	}
	source, split = arg[:i], arg[i+1:]
	if split == "" || strings.ContainsAny(split, "#/\\:@, \t\r\n") {
		return "", "", fmt.Errorf("data %q: malformed split %q after '#': want SOURCE#SPLIT, e.g. hf://OWNER/NAME[:CONFIG][@REVISION]#dev or data/beir#dev", arg, split)
	}
	return source, split, nil
}

// parseRef parses a data argument with its #SPLIT suffix (WithSplit), the
// suffix taking precedence over split.
func parseRef(arg, split string) (hub.DatasetRef, string, error) {
	arg, split, err := WithSplit(arg, split)
	if err != nil {
		return hub.DatasetRef{}, "", err
	}
	ref, err := hub.ParseDatasetRef(arg)
	return ref, split, err
}
