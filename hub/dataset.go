package hub

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Datasets on the Hub.
//
// A data argument names a dataset repository as
//
//	hf://OWNER/NAME[:CONFIG][@REVISION]
//
// CONFIG is a configuration (subset) of the repository, as in
// load_dataset(NAME, CONFIG); REVISION a branch, tag or commit (default
// main). The split is chosen apart (a --split flag). Files are downloaded
// with the same client, checks and resumption as models, into the same
// cache layout as huggingface_hub (<cache>/datasets--OWNER--NAME).
//
// Which files make a config's split follows the `datasets` library:
//
//  1. the README.md YAML `configs:` list (config_name, data_files as a
//     string, a list, or a list of {split, path} entries, with glob
//     patterns);
//  2. otherwise the default layout, where the split is named by a folder
//     (train/…, data/test/…) or by a file name (train.jsonl,
//     data/test-00000-of-00001.parquet, qrels/dev.tsv), with the aliases
//     validation = valid, dev, val and test = testing, eval, evaluation;
//     files naming no split are the train split. Without YAML configs,
//     CONFIG may name a folder (corpus/…) or a file (corpus.jsonl) of the
//     repository, which is how many BEIR copies store corpus and queries;
//  3. when the repository holds no file kormed reads (a loading script,
//     arrow files), the Hub's parquet conversion, revision
//     refs/convert/parquet, laid out as <config>/<split>/NNNN.parquet.
//
// Readable files: .parquet, .jsonl, .json, .csv, .tsv, each optionally
// gzip-compressed (.gz).

// DatasetScheme prefixes a Hub dataset in a data argument.
const DatasetScheme = "hf://"

// ConvertedRevision is the Hub's parquet conversion of a dataset.
const ConvertedRevision = "refs/convert/parquet"

// ErrNoData is wrapped by the errors for a config or split that has no
// readable file; ErrNoConfig too when the config itself does not exist.
var (
	ErrNoData   = errors.New("no data files")
	ErrNoConfig = errors.New("no such config")
)

// DatasetRef is a parsed hf:// argument.
type DatasetRef struct {
	ID       string // OWNER/NAME
	Config   string // "" = the default config
	Revision string // "" = main
}

// IsDatasetRef reports whether a data argument names a Hub dataset.
func IsDatasetRef(s string) bool { return strings.HasPrefix(s, DatasetScheme) }

// ParseDatasetRef parses hf://OWNER/NAME[:CONFIG][@REVISION].
func ParseDatasetRef(s string) (DatasetRef, error) {
	bad := func(why string) (DatasetRef, error) {
		return DatasetRef{}, errorf(ErrInvalidID, "invalid dataset %q: %s; want hf://OWNER/NAME[:CONFIG][@REVISION], e.g. hf://taeminlee/Ko-StrategyQA:corpus", s, why)
	}
	if !IsDatasetRef(s) {
		return bad("it does not start with " + DatasetScheme)
	}
	rest := strings.TrimPrefix(s, DatasetScheme)
	var ref DatasetRef
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		ref.Revision = rest[i+1:]
		rest = rest[:i]
		if err := validRevision(ref.Revision); err != nil {
			return bad(err.Error())
		}
	}
	if i := strings.IndexByte(rest, ':'); i >= 0 {
		ref.Config = rest[i+1:]
		rest = rest[:i]
		if ref.Config == "" || strings.ContainsAny(ref.Config, "/\\ \t\n") {
			return bad("empty or malformed config")
		}
	}
	ref.ID = rest
	if err := ValidateID(ref.ID); err != nil {
		return bad(strings.TrimPrefix(err.Error(), "invalid model id "))
	}
	return ref, nil
}

// String is the argument form of ref.
func (ref DatasetRef) String() string {
	s := DatasetScheme + ref.ID
	if ref.Config != "" {
		s += ":" + ref.Config
	}
	if ref.Revision != "" {
		s += "@" + ref.Revision
	}
	return s
}

// WithConfig returns ref naming another config.
func (ref DatasetRef) WithConfig(c string) DatasetRef { ref.Config = c; return ref }

// DatasetFiles is one config's split, downloaded.
type DatasetFiles struct {
	Ref      DatasetRef
	Config   string   // the config that was read ("" when the repo has none)
	Split    string   // the split that was read
	Revision string   // the revision the files came from (may be refs/convert/parquet)
	Commit   string   // its commit
	Names    []string // the files' paths inside the repository
	Paths    []string // the same files in the local cache
}

// Describe names the files for messages: "hf://o/n:corpus (split test, revision main)".
func (f *DatasetFiles) Describe() string {
	rev := f.Revision
	if rev == "" {
		rev = "main"
	}
	return fmt.Sprintf("%s (split %s, revision %s)", f.Ref, f.Split, rev)
}

// DatasetSplit resolves ref's config and split to local files, downloading
// them (or, offline, finding them in the cache). split "" picks the only
// split, else train.
func DatasetSplit(ctx context.Context, ref DatasetRef, split string, opts Options) (*DatasetFiles, error) {
	if opts.Revision == "" {
		opts.Revision = ref.Revision
	}
	repo, err := openDatasetRepo(ctx, ref, opts)
	if err != nil {
		return nil, err
	}
	var names []string
	var config, gotSplit string
	if repo.r.rev == ConvertedRevision {
		names, config, gotSplit, err = selectConverted(repo.files, ref, split)
	} else {
		var yamlConfigs []yamlConfig
		yamlConfigs, err = repo.readmeConfigs(ctx)
		if err == nil {
			names, config, gotSplit, err = selectFiles(repo.files, yamlConfigs, ref, split)
		}
		if errors.Is(err, errNoReadable) && ref.Revision == "" {
			// The repository stores a format kormed cannot read: the
			// Hub's parquet conversion of the default branch.
			opts.Revision = ConvertedRevision
			conv, cerr := openDatasetRepo(ctx, ref, opts)
			if cerr != nil {
				return nil, fmt.Errorf("%w; its parquet conversion (%s) is not available either: %w", err, ConvertedRevision, cerr)
			}
			repo.r.logf("%s stores no parquet/JSON/CSV files; reading the Hub's parquet conversion (%s)", ref, ConvertedRevision)
			repo = conv
			names, config, gotSplit, err = selectConverted(repo.files, ref, split)
		}
	}
	if err != nil {
		return nil, err
	}
	out := &DatasetFiles{Ref: ref, Config: config, Split: gotSplit, Revision: repo.r.rev, Commit: repo.commit, Names: names}
	for _, n := range names {
		p, err := repo.fetch(ctx, n)
		if err != nil {
			return nil, err
		}
		out.Paths = append(out.Paths, p)
	}
	return out, nil
}

// DatasetFolder returns the cache folder of a dataset id, e.g.
// <cache>/datasets--taeminlee--Ko-StrategyQA.
func DatasetFolder(cacheDir, id string) string {
	return filepath.Join(cacheDir, repoFolderName(datasetRepo, id))
}

// datasetRepoAt is a dataset repository at one commit, with its file list:
// from the Hub when online, from the cached snapshot when offline (or when
// the Hub cannot be reached).
type datasetRepoAt struct {
	r      *resolver
	ref    DatasetRef
	commit string
	files  []string
	online bool
}

func openDatasetRepo(ctx context.Context, ref DatasetRef, opts Options) (*datasetRepoAt, error) {
	r, err := newRepoResolver(datasetRepo, ref.ID, opts)
	if err != nil {
		return nil, err
	}
	d := &datasetRepoAt{r: r, ref: ref}
	if !r.offline {
		info, err := r.listRevision(ctx)
		if err == nil {
			if err := os.MkdirAll(r.storage, 0o755); err != nil {
				return nil, fmt.Errorf("hub cache %s: %w", r.cacheDir, err)
			}
			if err := r.writeRef(info.Sha); err != nil {
				return nil, fmt.Errorf("hub cache: writing %s: %w", r.refPath(r.rev), err)
			}
			d.commit, d.online = info.Sha, true
			for _, s := range info.Siblings {
				if isLocalFile(s.RFilename) {
					d.files = append(d.files, s.RFilename)
				}
			}
			sort.Strings(d.files)
			return d, nil
		}
		var ne *netErr
		if !errors.As(err, &ne) || ctx.Err() != nil {
			return nil, err
		}
		if c := r.cachedCommit(); c != "" {
			r.logf("%v; using the cached snapshot of %s", err, ref)
			return d.fromCache(c)
		}
		return nil, d.missError(err)
	}
	if c := r.cachedCommit(); c != "" {
		return d.fromCache(c)
	}
	return nil, d.missError(nil)
}

func (d *datasetRepoAt) fromCache(commit string) (*datasetRepoAt, error) {
	d.commit = commit
	root := d.r.snapshotDir(commit)
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			return nil
		}
		if fileExists(p) {
			rel, _ := filepath.Rel(root, p)
			d.files = append(d.files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hub cache: reading %s: %w", root, err)
	}
	sort.Strings(d.files)
	return d, nil
}

// missError says exactly what to download and copy for an offline run.
func (d *datasetRepoAt) missError(cause error) error {
	r := d.r
	why := r.offWhy
	if cause != nil {
		why = cause.Error()
	}
	rev := ""
	if r.rev != "main" {
		rev = " --revision " + r.rev
	}
	msg := fmt.Sprintf("dataset %s (revision %s) is not in the Hugging Face cache at %s and %s; on a connected machine run "+
		"`huggingface-cli download --repo-type dataset %s%s` (or this same kormed command), then copy the folder %s "+
		"into the cache here (HF_HUB_CACHE, or HF_HOME/hub)",
		d.ref.ID, r.rev, r.cacheDir, why, d.ref.ID, rev, r.storage)
	if r.rev == "main" {
		msg += fmt.Sprintf("; if the repository stores no parquet/JSON/CSV files, also `huggingface-cli download --repo-type dataset %s --revision %s`", d.ref.ID, ConvertedRevision)
	}
	return &hubError{kind: ErrNotCached, msg: msg, err: cause}
}

// fetch returns the local path of a repository file, downloading it when
// online.
func (d *datasetRepoAt) fetch(ctx context.Context, name string) (string, error) {
	p := d.r.pointerPath(d.commit, name)
	if fileExists(p) {
		return p, nil
	}
	if !d.online {
		return "", d.missError(fmt.Errorf("the cached snapshot %s lacks %s", d.commit, name))
	}
	if err := d.r.fetch(ctx, d.commit, name); err != nil {
		return "", err
	}
	return p, nil
}

// yamlConfig is one entry of the README.md YAML `configs:` list.
type yamlConfig struct {
	Name    string
	Default bool
	Splits  []string            // in order
	Files   map[string][]string // split -> patterns
}

// readmeConfigs reads the `configs:` of README.md's YAML front matter; nil
// when there is none.
func (d *datasetRepoAt) readmeConfigs(ctx context.Context) ([]yamlConfig, error) {
	has := false
	for _, f := range d.files {
		if f == "README.md" {
			has = true
		}
	}
	if !has {
		return nil, nil
	}
	p, err := d.fetch(ctx, "README.md")
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	cfgs, err := parseReadmeConfigs(b)
	if err != nil {
		return nil, fmt.Errorf("README.md of dataset %s: %w", d.ref.ID, err)
	}
	return cfgs, nil
}

func parseReadmeConfigs(b []byte) ([]yamlConfig, error) {
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	if !strings.HasPrefix(s, "---\n") {
		return nil, nil
	}
	end := strings.Index(s[4:], "\n---")
	if end < 0 {
		return nil, nil
	}
	var meta struct {
		Configs []struct {
			ConfigName string    `yaml:"config_name"`
			Default    bool      `yaml:"default"`
			DataFiles  yaml.Node `yaml:"data_files"`
		} `yaml:"configs"`
	}
	if err := yaml.Unmarshal([]byte(s[4:4+end+1]), &meta); err != nil {
		return nil, fmt.Errorf("YAML header: %w", err)
	}
	var out []yamlConfig
	for _, c := range meta.Configs {
		yc := yamlConfig{Name: c.ConfigName, Default: c.Default, Files: map[string][]string{}}
		if yc.Name == "" {
			yc.Name = "default"
		}
		add := func(split string, pats []string) {
			if _, ok := yc.Files[split]; !ok {
				yc.Splits = append(yc.Splits, split)
			}
			yc.Files[split] = append(yc.Files[split], pats...)
		}
		strs := func(n *yaml.Node) []string {
			switch n.Kind {
			case yaml.ScalarNode:
				return []string{n.Value}
			case yaml.SequenceNode:
				var v []string
				for _, e := range n.Content {
					if e.Kind == yaml.ScalarNode {
						v = append(v, e.Value)
					}
				}
				return v
			}
			return nil
		}
		n := &c.DataFiles
		switch n.Kind {
		case 0:
		case yaml.ScalarNode:
			add("train", []string{n.Value})
		case yaml.SequenceNode:
			for _, e := range n.Content {
				if e.Kind == yaml.ScalarNode {
					add("train", []string{e.Value})
					continue
				}
				var entry struct {
					Split string    `yaml:"split"`
					Path  yaml.Node `yaml:"path"`
				}
				if err := e.Decode(&entry); err != nil {
					return nil, fmt.Errorf("config %s: data_files: %w", yc.Name, err)
				}
				if entry.Split == "" {
					entry.Split = "train"
				}
				add(entry.Split, strs(&entry.Path))
			}
		case yaml.MappingNode: // {split: pattern(s)}
			for i := 0; i+1 < len(n.Content); i += 2 {
				add(n.Content[i].Value, strs(n.Content[i+1]))
			}
		}
		out = append(out, yc)
	}
	return out, nil
}

// readableExt lists the file types kormed reads, each also gzipped.
var readableExt = []string{".parquet", ".jsonl", ".json", ".csv", ".tsv", ".ndjson"}

// metadataFiles are JSON files of a dataset repository that are not data
// (datasets' save_to_disk and builder metadata).
var metadataFiles = map[string]bool{"dataset_infos.json": true, "dataset_info.json": true, "dataset_dict.json": true, "state.json": true}

// Readable reports whether a data file name is one kormed reads.
func Readable(name string) bool {
	if metadataFiles[path.Base(name)] {
		return false
	}
	for _, part := range strings.Split(path.Dir(name), "/") {
		if strings.HasPrefix(part, ".") && part != "." {
			return false // hidden folders (.github, .huggingface)
		}
	}
	n := strings.ToLower(strings.TrimSuffix(name, ".gz"))
	for _, e := range readableExt {
		if strings.HasSuffix(n, e) {
			return true
		}
	}
	return false
}

var errNoReadable = errors.New("no readable data files")

// noConfig adds ErrNoConfig to an error's chain without words of its own.
var noConfig = quietErr{ErrNoConfig}

type quietErr struct{ error }

func (quietErr) Error() string   { return "" }
func (q quietErr) Unwrap() error { return q.error }

// splitAliases are datasets' split keywords (datasets/data_files.py).
var splitAliases = map[string][]string{
	"train":      {"train", "training"},
	"validation": {"validation", "valid", "dev", "val"},
	"test":       {"test", "testing", "eval", "evaluation"},
}

// canonicalSplit maps a split name the user gave to datasets' canonical
// one: dev -> validation.
func canonicalSplit(s string) string {
	for c, al := range splitAliases {
		for _, a := range al {
			if s == a {
				return c
			}
		}
	}
	return s
}

// selectFiles picks the repository files of ref's config and split on a
// regular revision.
func selectFiles(files []string, cfgs []yamlConfig, ref DatasetRef, split string) (names []string, config, gotSplit string, err error) {
	var readable []string
	for _, f := range files {
		if Readable(f) && !strings.HasPrefix(path.Base(f), ".") {
			readable = append(readable, f)
		}
	}
	if len(readable) == 0 {
		return nil, "", "", fmt.Errorf("dataset %s has no .parquet, .jsonl, .json, .csv or .tsv file (it has %s): %w", ref.ID, listSome(files), errNoReadable)
	}
	if len(cfgs) > 0 {
		return selectYAML(readable, cfgs, ref, split)
	}
	// No YAML configs: the default layout, with CONFIG naming a folder or
	// a file stem.
	pool := readable
	config = ref.Config
	if config != "" && config != "default" {
		pool = nil
		for _, f := range readable {
			stem := strings.TrimSuffix(f, ".gz")
			stem = strings.TrimSuffix(stem, path.Ext(stem))
			if strings.HasPrefix(f, config+"/") || stem == config {
				pool = append(pool, f)
			}
		}
		if len(pool) == 0 {
			return nil, "", "", fmt.Errorf("dataset %s has no config %q: no README.md configs, and no folder %s/ or file %s.* among its files (%s): %w%w",
				ref.ID, config, config, config, listSome(readable), ErrNoData, noConfig)
		}
	}
	bySplit, order := inferSplits(pool, config)
	names, gotSplit, err = pickSplit(bySplit, order, ref, split)
	return names, config, gotSplit, err
}

func selectYAML(readable []string, cfgs []yamlConfig, ref DatasetRef, split string) ([]string, string, string, error) {
	var c *yamlConfig
	var all []string
	for i := range cfgs {
		all = append(all, cfgs[i].Name)
		if ref.Config != "" && cfgs[i].Name == ref.Config {
			c = &cfgs[i]
		}
	}
	if ref.Config == "" {
		for i := range cfgs {
			if cfgs[i].Default || (c == nil && cfgs[i].Name == "default") {
				c = &cfgs[i]
			}
		}
		if c == nil && len(cfgs) == 1 {
			c = &cfgs[0]
		}
		if c == nil {
			return nil, "", "", fmt.Errorf("dataset %s has several configs (%s): name one, as hf://%s:CONFIG: %w", ref.ID, strings.Join(all, ", "), ref.ID, ErrNoData)
		}
	}
	if c == nil {
		return nil, "", "", fmt.Errorf("dataset %s has no config %q; its README.md lists %s: %w%w", ref.ID, ref.Config, strings.Join(all, ", "), ErrNoData, noConfig)
	}
	bySplit := map[string][]string{}
	for _, s := range c.Splits {
		for _, pat := range c.Files[s] {
			re := globRE(pat)
			for _, f := range readable {
				if re.MatchString(f) {
					bySplit[s] = appendNew(bySplit[s], f)
				}
			}
		}
	}
	names, got, err := pickSplit(bySplit, c.Splits, ref.WithConfig(c.Name), split)
	return names, c.Name, got, err
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// inferSplits groups files by split the way datasets' default patterns do:
// a folder named after a split, else a file name starting with (or a path
// containing, after a separator) a split keyword followed by a separator;
// files naming no split form the train split.
func inferSplits(files []string, config string) (map[string][]string, []string) {
	by := map[string][]string{}
	var order []string
	add := func(s, f string) {
		if _, ok := by[s]; !ok {
			order = append(order, s)
		}
		by[s] = append(by[s], f)
	}
	rel := func(f string) string {
		if config != "" && config != "default" {
			return strings.TrimPrefix(f, config+"/")
		}
		return f
	}
	// 1. split in a folder name
	inDir := map[string]string{}
	for _, f := range files {
		dirs := strings.Split(path.Dir(rel(f)), "/")
		for _, d := range dirs {
			if c := canonicalKeyword(d); c != "" {
				inDir[f] = c
				break
			}
		}
	}
	if len(inDir) > 0 {
		for _, f := range files {
			if s, ok := inDir[f]; ok {
				add(s, f)
			}
		}
		return by, order
	}
	// 2. split in the file name
	inName := map[string]string{}
	for _, f := range files {
		if s := splitInName(path.Base(f)); s != "" {
			inName[f] = s
		}
	}
	if len(inName) > 0 {
		for _, f := range files {
			if s, ok := inName[f]; ok {
				add(s, f)
			}
		}
		return by, order
	}
	for _, f := range files {
		add("train", f)
	}
	return by, order
}

func canonicalKeyword(s string) string {
	for c, al := range splitAliases {
		for _, a := range al {
			if s == a {
				return c
			}
		}
	}
	return ""
}

var nameSplitRE = regexp.MustCompile(`(?:^|[-._ 0-9])(train|training|validation|valid|dev|val|test|testing|eval|evaluation)(?:[-._ 0-9]|$)`)

// splitInName finds a split keyword in a file name: test.tsv,
// train-00000-of-00002.parquet, ko_dev.jsonl.
func splitInName(base string) string {
	m := nameSplitRE.FindStringSubmatch(strings.ToLower(base))
	if m == nil {
		return ""
	}
	return canonicalKeyword(m[1])
}

// pickSplit chooses the requested split, or, with none requested, the only
// one, else train; the error lists the splits there are.
func pickSplit(by map[string][]string, order []string, ref DatasetRef, split string) ([]string, string, error) {
	var have []string
	for _, s := range order {
		if len(by[s]) > 0 {
			have = append(have, s)
		}
	}
	if split == "" {
		if len(have) == 1 {
			return by[have[0]], have[0], nil
		}
		if len(by["train"]) > 0 {
			return by["train"], "train", nil
		}
		return nil, "", fmt.Errorf("%s has splits %s: choose one with --split: %w", ref, strings.Join(have, ", "), ErrNoData)
	}
	if len(by[split]) > 0 {
		return by[split], split, nil
	}
	if c := canonicalSplit(split); len(by[c]) > 0 {
		return by[c], c, nil
	}
	if len(have) == 0 {
		return nil, "", fmt.Errorf("%s has no readable data files: %w", ref, ErrNoData)
	}
	return nil, "", fmt.Errorf("%s has no split %q; it has %s: %w", ref, split, strings.Join(have, ", "), ErrNoData)
}

// selectConverted picks files on refs/convert/parquet:
// <config>/<split>/NNNN.parquet (or <config>/partial-<split>/…), or the
// older <config>/<name>-<split>[-NNNNN-of-NNNNN].parquet.
func selectConverted(files []string, ref DatasetRef, split string) ([]string, string, string, error) {
	byConfig := map[string]map[string][]string{}
	var configs []string
	for _, f := range files {
		if !strings.HasSuffix(f, ".parquet") {
			continue
		}
		parts := strings.Split(f, "/")
		var cfg, sp string
		switch len(parts) {
		case 3:
			cfg, sp = parts[0], strings.TrimPrefix(parts[1], "partial-")
		case 2:
			cfg = parts[0]
			stem := strings.TrimSuffix(parts[1], ".parquet")
			if i := strings.Index(stem, "-0"); i >= 0 && strings.Contains(stem[i:], "-of-") {
				stem = stem[:i]
			}
			if i := strings.LastIndexByte(stem, '-'); i >= 0 {
				sp = stem[i+1:]
			}
		}
		if cfg == "" || sp == "" {
			continue
		}
		if byConfig[cfg] == nil {
			byConfig[cfg] = map[string][]string{}
			configs = append(configs, cfg)
		}
		byConfig[cfg][sp] = append(byConfig[cfg][sp], f)
	}
	if len(configs) == 0 {
		return nil, "", "", fmt.Errorf("dataset %s: its parquet conversion (%s) has no parquet files: %w", ref.ID, ConvertedRevision, ErrNoData)
	}
	cfg := ref.Config
	if cfg == "" {
		switch {
		case byConfig["default"] != nil:
			cfg = "default"
		case len(configs) == 1:
			cfg = configs[0]
		default:
			return nil, "", "", fmt.Errorf("dataset %s has several configs (%s): name one, as hf://%s:CONFIG: %w", ref.ID, strings.Join(configs, ", "), ref.ID, ErrNoData)
		}
	}
	splits, ok := byConfig[cfg]
	if !ok {
		return nil, "", "", fmt.Errorf("dataset %s has no config %q in its parquet conversion; it has %s: %w%w", ref.ID, cfg, strings.Join(configs, ", "), ErrNoData, noConfig)
	}
	var order []string
	for s := range splits {
		order = append(order, s)
	}
	sort.Strings(order)
	for _, s := range order {
		sort.Strings(splits[s])
	}
	names, got, err := pickSplit(splits, order, ref.WithConfig(cfg), split)
	return names, cfg, got, err
}

// globRE turns a data_files pattern (fsspec glob: * within a path part, **
// across parts, ?, [...]) into an anchored regexp.
func globRE(pat string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(pat); i++ {
		c := pat[i]
		switch {
		case c == '*' && i+1 < len(pat) && pat[i+1] == '*':
			i++
			if i+1 < len(pat) && pat[i+1] == '/' {
				i++
				b.WriteString("(?:.*/)?")
			} else {
				b.WriteString(".*")
			}
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		case c == '[':
			j := strings.IndexByte(pat[i:], ']')
			if j < 0 {
				b.WriteString(`\[`)
				continue
			}
			cls := pat[i+1 : i+j]
			if strings.HasPrefix(cls, "!") {
				cls = "^" + cls[1:]
			}
			b.WriteString("[" + strings.ReplaceAll(cls, `\`, `\\`) + "]")
			i += j
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return regexp.MustCompile("^" + regexp.QuoteMeta(pat) + "$")
	}
	return re
}

func listSome(files []string) string {
	if len(files) == 0 {
		return "no files"
	}
	if len(files) > 8 {
		return strings.Join(files[:8], ", ") + fmt.Sprintf(" and %d more", len(files)-8)
	}
	return strings.Join(files, ", ")
}
