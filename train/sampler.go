package train

// NoDuplicateBatches is sentence-transformers' NoDuplicatesBatchSampler over a given order.
//
// rows[i] holds example i's texts (label columns excluded); order replaces
// torch.randperm: it lists the examples to batch, first to last (indices out
// of range are ignored, a repeated index counts once). Like
// NoDuplicatesBatchSampler.__iter__, while examples remain it walks them in
// order and starts a batch, skipping every example that shares a text with
// an example already taken; the batch is yielded as soon as it holds
// batchSize examples. When the walk ends first, the incomplete batch is
// yielded unless dropLast. Either way the batch's examples are removed and
// the next batch starts again from the first remaining example, so skipped
// examples come back in later batches (and with dropLast, incomplete batches
// are dropped but the walk still goes on with what is left). A text shared
// by two columns of one example does not exclude that example.
//
// Example: texts a,b a,c d,e f,g b,h i,j (rows 0..5), order 0..5,
// batchSize 3: the first walk takes 0, skips 1 (a), takes 2 and 3 → [0 2 3];
// then 1, 4, 5 share nothing → [1 4 5]. With batchSize 4: [0 2 3 5] (1 and 4
// skipped: a, b), then [1 4], which dropLast drops. With batchSize 5 the
// first walk ends with [0 2 3 5] incomplete, then [1 4]: with dropLast there
// is no batch at all.
//
// batchSize < 1 gives no batches.
func NoDuplicateBatches(rows [][]string, order []int, batchSize int, dropLast bool) [][]int {
	if batchSize < 1 {
		return nil
	}
	// The remaining examples as a singly linked list in order: next[k] is the
	// position after k in list, -1 at the end; removal is O(1) during the walk.
	var list []int
	seen := make(map[int]bool, len(order))
	for _, i := range order {
		if i < 0 || i >= len(rows) || seen[i] {
			continue
		}
		seen[i] = true
		list = append(list, i)
	}
	next := make([]int, len(list))
	for k := range next {
		next[k] = k + 1
	}
	if len(next) > 0 {
		next[len(next)-1] = -1
	}
	head := 0
	if len(list) == 0 {
		head = -1
	}
	var batches [][]int
	for head >= 0 {
		values := make(map[string]bool)
		var batch []int
		full := false
		prev := -1 // last kept list position before the cursor
		for k := head; k >= 0; k = next[k] {
			row := rows[list[k]]
			clash := false
			for _, v := range row {
				if values[v] {
					clash = true
					break
				}
			}
			if clash {
				prev = k
				continue
			}
			batch = append(batch, list[k])
			// unlink k: it is yielded (or dropped) with this batch
			if prev < 0 {
				head = next[k]
			} else {
				next[prev] = next[k]
			}
			if len(batch) == batchSize {
				full = true
				break
			}
			for _, v := range row {
				values[v] = true
			}
		}
		if full || !dropLast {
			batches = append(batches, batch)
		}
	}
	return batches
}

// GroupBatches forms batches from clusters for the multi-similarity loss.
//
// groups[i] is example i's cluster id; order lists the examples to batch
// (indices out of range are ignored, a repeated index counts once). Every
// batch gives each of its examples at least one partner of the same group:
//
//  1. Walking order, the examples are gathered by group; groups keep the
//     order of their first appearance, examples their order within a group.
//  2. A group with a single example is skipped (counted in skipped).
//  3. Each group is cut into chunks of perGroup examples (perGroup < 2 reads
//     as 2); a last chunk of 1 is merged into the chunk before it. A chunk
//     larger than batchSize is cut into pieces of batchSize, and when that
//     leaves a piece of 1 the piece before it gives it one example
//     (batchSize−1, 2); with batchSize 2 that example cannot be paired and
//     is skipped (counted in skipped).
//  4. The chunks are dealt round-robin: first chunk of every group in group
//     order, then every group's second chunk, and so on, so one large group
//     does not fill consecutive batches by itself.
//  5. The chunks are packed into batches in that sequence: a chunk that does
//     not fit in the current batch starts the next one, so a batch may hold
//     fewer than batchSize examples. The last batch is dropped when dropLast
//     and it holds fewer than batchSize examples.
//
// skipped counts the examples left out by rules 2 and 3 (not those of a
// batch dropped by dropLast). batchSize < 2 gives no batches and skips every
// example. Same inputs, same batches.
//
// Example: groups 7 7 7 7 7 3 3 9 1 1 (rows 0..9), order 0..9, batchSize 4,
// perGroup 2: group 7 → chunks [0 1] [2 3 4] (the last 1 merged), group 3 →
// [5 6], group 9 skipped, group 1 → [8 9]. Dealt: [0 1] [5 6] [8 9] [2 3 4];
// packed: [0 1 5 6] [8 9] [2 3 4]; skipped 1. With dropLast the last batch
// [2 3 4] is dropped.
func GroupBatches(groups []int, order []int, batchSize, perGroup int, dropLast bool) (batches [][]int, skipped int) {
	// 1. gather by group
	var members [][]int
	where := make(map[int]int) // group id → index in members
	seen := make(map[int]bool, len(order))
	for _, i := range order {
		if i < 0 || i >= len(groups) || seen[i] {
			continue
		}
		seen[i] = true
		k, ok := where[groups[i]]
		if !ok {
			k = len(members)
			where[groups[i]] = k
			members = append(members, nil)
		}
		members[k] = append(members[k], i)
	}
	if batchSize < 2 {
		return nil, len(seen)
	}
	if perGroup < 2 {
		perGroup = 2
	}
	// 2, 3. chunks per group
	chunks := make([][][]int, len(members))
	for k, m := range members {
		if len(m) == 1 {
			skipped++
			continue
		}
		var cs [][]int
		for lo := 0; lo < len(m); lo += perGroup {
			cs = append(cs, m[lo:min(lo+perGroup, len(m))])
		}
		if last := len(cs) - 1; len(cs[last]) == 1 {
			cs[last-1] = m[len(m)-len(cs[last-1])-1:] // previous chunk plus the last example
			cs = cs[:last]
		}
		for _, c := range cs {
			for len(c) > batchSize {
				n := batchSize
				if len(c)-n == 1 {
					n-- // leave 2, not 1
				}
				if n < 2 { // batchSize 2 and 3 left: the third cannot be paired
					chunks[k] = append(chunks[k], c[:2])
					skipped++
					c = nil
					break
				}
				chunks[k] = append(chunks[k], c[:n])
				c = c[n:]
			}
			if len(c) > 0 {
				chunks[k] = append(chunks[k], c)
			}
		}
	}
	// 4, 5. deal round-robin and pack
	var cur []int
	for round := 0; ; round++ {
		dealt := false
		for _, cs := range chunks {
			if round >= len(cs) {
				continue
			}
			dealt = true
			c := cs[round]
			if len(cur)+len(c) > batchSize {
				batches = append(batches, cur)
				cur = nil
			}
			cur = append(cur, c...)
		}
		if !dealt {
			break
		}
	}
	if len(cur) > 0 && (!dropLast || len(cur) == batchSize) {
		batches = append(batches, cur)
	}
	return batches, skipped
}
