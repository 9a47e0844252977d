package fake

import (
	"maps"
	"net/http"
	"net/url"
	"strconv"
)

// pager builds one page of a cursor-paginated listing. The cursor is the
// position of the page's first item among the matching ones, as an opaque
// string to clients.
type pager struct {
	offset, size int
	n            int // matching items seen
	next         int // cursor of the next page, or -1
	data         []map[string]any
}

func newPager(q url.Values, size int) *pager {
	return &pager{offset: cursor(q.Get("page[cursor]")), size: size, next: -1, data: []map[string]any{}}
}

// add offers the next matching item, built only if it lands on the page;
// it returns false once the page is full.
func (p *pager) add(item func() map[string]any) bool {
	if p.n >= p.offset {
		if len(p.data) == p.size {
			p.next = p.n
			return false
		}
		p.data = append(p.data, item())
	}
	p.n++
	return true
}

// window returns the bounds of the page in a slice of total items, and
// records the next cursor, for listings that are plain slices.
func (p *pager) window(total int) (lo, hi int) {
	hi = min(total, p.offset+p.size)
	if hi < total {
		p.next = hi
	}
	return min(p.offset, hi), hi
}

// write answers with the page and the links Klaviyo gives: self, and next
// when there is more.
func (p *pager) write(c *call, q url.Values) {
	links := map[string]any{"self": c.base() + c.r.URL.RequestURI()}
	if p.next >= 0 {
		nq := maps.Clone(q)
		nq.Set("page[cursor]", strconv.Itoa(p.next))
		links["next"] = c.base() + c.r.URL.Path + "?" + nq.Encode()
	}
	c.json(http.StatusOK, map[string]any{"data": p.data, "links": links})
}
