package vector

// cand is a graph node and its score against the query being served.
type cand struct {
	s float32
	i uint32
}

// better orders candidates: higher score, then lower row number.
func better(a, b cand) bool { return a.s > b.s || (a.s == b.s && a.i < b.i) }

// frontier is a heap whose root is the best candidate: the node a graph
// search expands next.
type frontier []cand

func (h *frontier) push(c cand) {
	*h = append(*h, c)
	s := *h
	j := len(s) - 1
	for j > 0 {
		p := (j - 1) / 2
		if !better(s[j], s[p]) {
			break
		}
		s[j], s[p] = s[p], s[j]
		j = p
	}
}

func (h *frontier) pop() cand {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	*h = s
	j := 0
	for {
		c := 2*j + 1
		if c >= n {
			break
		}
		if c+1 < n && better(s[c+1], s[c]) {
			c++
		}
		if !better(s[c], s[j]) {
			break
		}
		s[j], s[c] = s[c], s[j]
		j = c
	}
	return top
}

// nearest is a heap whose root is the worst candidate: the ef best nodes
// found so far, the root being the bar a new node must beat.
type nearest []cand

func (h *nearest) push(c cand) {
	*h = append(*h, c)
	s := *h
	j := len(s) - 1
	for j > 0 {
		p := (j - 1) / 2
		if !better(s[p], s[j]) {
			break
		}
		s[j], s[p] = s[p], s[j]
		j = p
	}
}

func (h *nearest) pop() cand {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	*h = s
	j := 0
	for {
		c := 2*j + 1
		if c >= n {
			break
		}
		if c+1 < n && better(s[c], s[c+1]) {
			c++
		}
		if !better(s[j], s[c]) {
			break
		}
		s[j], s[c] = s[c], s[j]
		j = c
	}
	return top
}
