package serve

import (
	"fmt"
	"net/http"

	"github.com/kormed/kormed/search"
)

// noDocument answers a GET or DELETE /v1/documents/{id} of an id that no
// document has: 400 naming the offending character when the id could
// never be valid (search.CheckID: not NFC, leading or trailing space,
// control, format or invisible characters), else 404. A document whose id
// was stored before the check stays reachable, so that it can be deleted.
func noDocument(w http.ResponseWriter, id string) {
	if err := search.CheckID(id); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("no document %q", id))
}
