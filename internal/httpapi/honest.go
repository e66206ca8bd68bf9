package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hitcounter/hitcounter/internal/counter"
)

// How a counter counts honestly (docs/honest-counts.md): its settings, changed by its owner, and
// the owner's "don't count me" mark.

// handleSettings changes how a counter counts, for the holder of its admin key: the query
// parameters given replace those settings, the others stay as they are.
func handleSettings(d CounterDeps, m *Metrics) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		name, err := nameFrom(r)
		if err != nil {
			return err
		}
		auth, err := d.auth(r)
		if err != nil {
			return err
		}
		change, err := settingsFromQuery(r)
		if err != nil {
			return err
		}
		settings, err := d.Counters.ChangeSettings(r.Context(), name, change, auth, d.clientOf(r))
		if err != nil {
			return m.failed("settings", err)
		}
		writeJSON(w, http.StatusOK, settingsAnswerOf(settings))
		return nil
	}
}

// settingsFromQuery reads the change: time_zone, repeat_window (minutes) and count_bots, each
// optional; unknown parameters are refused, so a misspelt one does not pass for a change.
func settingsFromQuery(r *http.Request) (counter.SettingsChange, error) {
	var s counter.SettingsChange
	for param, values := range r.URL.Query() {
		if len(values) != 1 {
			return s, counter.Errorf(counter.EINVALID, nil, "query parameter %q must be given once", clipParam(param))
		}
		v := values[0]
		switch param {
		case "time_zone":
			if _, err := counter.ParseTimeZone(v); err != nil {
				return s, err
			}
			s.TimeZone = &v
		case "repeat_window":
			window, err := counter.ParseRepeatWindow(v)
			if err != nil {
				return s, err
			}
			s.RepeatWindow = &window
		case "count_bots":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return s, counter.Errorf(counter.EINVALID, nil, "count_bots must be true or false")
			}
			s.CountBots = &b
		default:
			return s, counter.Errorf(counter.EINVALID, nil,
				"unknown query parameter %q: the settings are time_zone, repeat_window and count_bots", clipParam(param))
		}
	}
	return s, nil
}

func clipParam(p string) string {
	if len(p) > 40 {
		return p[:40] + "…"
	}
	return p
}

// ownerCookieName is the cookie of one counter's "don't count me" mark. "~" cannot occur in a
// namespace or a key, so no two counters share a cookie.
func ownerCookieName(name counter.Name) string {
	return "hc_owner~" + name.Namespace + "~" + name.Key
}

// ownerCookieAge is how long a browser keeps the mark: 400 days, the most browsers allow.
const ownerCookieAge = 400 * 24 * time.Hour

// maxOwnerForm bounds the page's form: an admin key and a flag.
const maxOwnerForm = 1 << 10

// handleOwnerMark sets or clears the "don't count me" cookie of a counter in the browser that
// asks, given the counter's admin key: from the page's form (admin_key, exclude=1 or 0), which
// is sent back to the page, or with an Authorization header, which gets JSON. The form's
// errors are pages (inPage); a bad name in the path is JSON either way, since the page's own
// form never posts one.
func handleOwnerMark(d CounterDeps, m *Metrics) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		name, err := nameFrom(r)
		if err != nil {
			return err
		}
		fromForm := strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded")
		var auth counter.Auth
		var exclude bool
		if fromForm {
			r.Body = http.MaxBytesReader(w, r.Body, maxOwnerForm)
			if err := r.ParseForm(); err != nil {
				return inPage(counter.Errorf(counter.EINVALID, err, "the form could not be read"))
			}
			key := r.PostForm.Get("admin_key")
			if key == "" {
				return inPage(counter.Errorf(counter.EUNAUTHORIZED, nil, "enter the counter's admin key"))
			}
			auth = d.keyAuth(key)
			exclude = r.PostForm.Get("exclude") != "0"
		} else {
			if auth, err = d.auth(r); err != nil {
				return err
			}
			exclude = r.URL.Query().Get("exclude") != "0"
		}
		token, err := d.Counters.OwnerToken(r.Context(), name, auth, d.clientOf(r))
		if err != nil {
			err = m.failed("owner", err)
			if fromForm {
				return inPage(err)
			}
			return err
		}
		cookie := &http.Cookie{Name: ownerCookieName(name), Value: token, Path: "/", HttpOnly: true, MaxAge: int(ownerCookieAge / time.Second)}
		if !exclude {
			cookie.Value, cookie.MaxAge = "", -1
		}
		// Embedded in another site, a badge is a third-party request: the cookie goes with it
		// only as SameSite=None, which browsers accept only with Secure, over HTTPS. Over plain
		// HTTP (a local test) it is Lax: sent when the counter is on the site that shows it.
		if strings.HasPrefix(baseURL(r, d), "https://") {
			cookie.Secure, cookie.SameSite = true, http.SameSiteNoneMode
		} else {
			cookie.SameSite = http.SameSiteLaxMode
		}
		http.SetCookie(w, cookie)
		w.Header().Set("Cache-Control", "no-store")
		if fromForm {
			w.Header().Set("Location", "/c/"+name.Namespace+"/"+name.Key)
			w.WriteHeader(http.StatusSeeOther)
			return nil
		}
		msg := "this browser's hits on " + name.String() + " no longer count"
		if !exclude {
			msg = "this browser's hits on " + name.String() + " count again"
		}
		writeJSON(w, http.StatusOK, statusAnswer{Status: "ok", Message: msg})
		return nil
	}
}
