package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// The owner's listing as a page: GET /n/{namespace} asks for the namespace's key, and the form
// posts it to POST /n/{namespace}, which answers the page of counters (no script, like the
// counter's page). The key goes back in the page's own forms (sorting, paging), which is the
// owner's answer on the owner's connection; the page is never stored (no-store).

// maxListingForm bounds the listing's form: a key, a sort and an offset.
const maxListingForm = 1 << 10

func handleNamespacePageForm() handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ns, err := namespaceFrom(r)
		if err != nil {
			return err
		}
		writePage(w, r, "namespace "+ns, `<h1><span class="ns">namespace</span> `+escapeText.Replace(ns)+`</h1>
<p>The owner's list of this namespace's counters. Enter the namespace's key (the one its claim answered) to see it.</p>
`+listingForm(ns, "", counter.SortByName, 0, "Show the counters",
			`type="password" placeholder="namespace key" autocomplete="off" aria-label="namespace key" required`))
		return nil
	}
}

func handleNamespacePage(d CounterDeps, m *Metrics) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		ns, err := namespaceFrom(r)
		if err != nil {
			return err
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxListingForm)
		if err := r.ParseForm(); err != nil {
			return counter.Errorf(counter.EINVALID, err, "the form could not be read")
		}
		key := r.PostForm.Get("admin_key")
		if key == "" {
			return counter.Errorf(counter.EUNAUTHORIZED, nil, "enter the namespace's key")
		}
		auth := d.keyAuth(key)
		o := counter.ListOptions{Sort: r.PostForm.Get("sort")}
		if raw := r.PostForm.Get("offset"); raw != "" {
			if o.Offset, err = strconv.Atoi(raw); err != nil || o.Offset > counter.MaxNamespaceCounters {
				return counter.Errorf(counter.EINVALID, nil, "offset must be a whole number from 0 to %d", counter.MaxNamespaceCounters)
			}
		}
		page, err := d.Counters.ListNamespace(r.Context(), ns, o, auth, d.clientOf(r))
		if err != nil {
			return m.failed("namespace", err)
		}
		if o.Sort == "" {
			o.Sort = counter.SortByName
		}
		writePage(w, r, "namespace "+ns, renderListing(ns, key, o, page))
		return nil
	}
}

// listingForm is a form that posts the key to the listing with a sort and an offset: the key's
// input is visible (keyInput) on the first form, hidden on the page's own.
func listingForm(ns, key, sort string, offset int, button, keyInput string) string {
	input := `<input name="admin_key" ` + keyInput + `>`
	if keyInput == "" {
		input = `<input type="hidden" name="admin_key" value="` + escapeText.Replace(key) + `">`
	}
	return fmt.Sprintf(`<form method="post" action="/n/%s">
%s
<input type="hidden" name="sort" value="%s">
<input type="hidden" name="offset" value="%d">
<button>%s</button>
</form>
`, escapeText.Replace(ns), input, escapeText.Replace(sort), offset, escapeText.Replace(button))
}

func renderListing(ns, key string, o counter.ListOptions, page counter.NamespacePage) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<h1><span class="ns">namespace</span> %s</h1>
<p id="listing-summary">%d counters, by %s.</p>
<table id="listing">
<thead><tr><th>counter</th><th class="num">value</th><th>created</th></tr></thead>
<tbody>
`, escapeText.Replace(ns), page.Total, escapeText.Replace(o.Sort))
	for _, info := range page.Counters {
		path := escapeText.Replace(info.Name.Namespace + "/" + info.Name.Key)
		created := ""
		if !info.Created.IsZero() {
			created = info.Created.UTC().Format("2006-01-02")
		}
		fmt.Fprintf(&b, "<tr><td><a href=\"/c/%s\">%s</a></td><td class=\"num\">%d</td><td>%s</td></tr>\n",
			path, escapeText.Replace(info.Name.Key), info.Value, created)
	}
	b.WriteString("</tbody>\n</table>\n")
	other := counter.SortByValue
	if o.Sort == counter.SortByValue {
		other = counter.SortByName
	}
	b.WriteString(listingForm(ns, key, other, 0, "Sort by "+other, ""))
	if page.Next > 0 {
		b.WriteString(listingForm(ns, key, o.Sort, page.Next, "Next page", ""))
	}
	fmt.Fprintf(&b, `<p class="note">The same list as JSON: <code>GET /namespace/%s</code> with the key as a bearer token; `+
		`every counter as JSON lines, for <code>hitcounter import</code>: <code>GET /namespace/%s/export</code>.</p>
`, escapeText.Replace(ns), escapeText.Replace(ns))
	return b.String()
}

// writePage answers a page of the site: its title, the stylesheet and body.
func writePage(w http.ResponseWriter, r *http.Request, title, body string) {
	h := w.Header()
	setBodyHeaders(h, formatHTML.contentType())
	h.Set("Content-Security-Policy", pagePolicy)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	var b strings.Builder
	b.WriteString("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n" +
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"color-scheme\" content=\"light dark\">\n<title>")
	b.WriteString(escapeText.Replace(title))
	b.WriteString(" · hitcounter</title>\n")
	b.WriteString(pageStyle)
	b.WriteString("</head>\n<body>\n<main>\n")
	b.WriteString(body)
	b.WriteString("</main>\n</body>\n</html>\n")
	_, _ = w.Write([]byte(b.String()))
}
