// Command gen-logos writes internal/badge/logos.json, the logos a badge can show, from a
// Simple Icons npm tarball. scripts/gen-logos.sh fetches the pinned release, checks its
// integrity and runs this; the build never does.
//
// Only icons whose Simple Icons entry carries no licence of its own, or CC0-1.0, are taken:
// Simple Icons is CC0 as a whole, but some icons are under their brand's licence (CC-BY-SA,
// MIT, CC-BY-NC-SA, …), whose attribution or share-alike terms a badge cannot carry. A listed
// icon with such a licence stops the generator rather than being dropped quietly.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
)

// slugs are the logos shipped: what READMEs carry most (forges, languages, runtimes, package
// registries, containers, databases, chat and social sites, sponsors). Simple Icons' slugs,
// which are also shields.io's names for them.
var slugs = []string{
	// forges and CI
	"github", "gitlab", "bitbucket", "codeberg", "githubactions",
	// languages and runtimes
	"go", "python", "typescript", "kotlin", "swift", "c", "cplusplus", "dotnet", "dart",
	"flutter", "nodedotjs", "bun", "html5", "css", "markdown",
	// frameworks
	"react", "svelte", "tailwindcss",
	// package registries
	"npm", "pypi", "rubygems",
	// containers, infrastructure, databases
	"docker", "kubernetes", "helm", "terraform", "nginx", "cloudflare", "grafana", "prometheus",
	"redis", "postgresql", "mysql", "sqlite", "mongodb",
	// operating systems and browsers
	"linux", "ubuntu", "archlinux", "apple", "firefox",
	// chat, social, video, Q&A
	"discord", "mastodon", "bluesky", "matrix", "telegram", "reddit", "x", "youtube",
	"stackoverflow", "readthedocs", "wordpress", "rss",
	// sponsoring
	"githubsponsors", "kofi", "liberapay", "opencollective",
}

// pathData is what a Simple Icons path's d attribute is made of: commands, numbers, separators.
// internal/badge checks the same when it loads the file.
var pathData = regexp.MustCompile(`^[MmZzLlHhVvCcSsQqTtAa0-9eE.,+\- ]+$`)

type entry struct {
	Title   string `json:"title"`
	Slug    string `json:"slug"`
	Hex     string `json:"hex"`
	License *struct {
		Type string `json:"type"`
	} `json:"license"`
}

type logo struct {
	Name  string `json:"name"`
	Title string `json:"title"`
	Hex   string `json:"hex"`
	Path  string `json:"path"`
}

func main() {
	version := flag.String("version", "", "the Simple Icons release the tarball is")
	tgz := flag.String("tgz", "", "the npm tarball (npm pack simple-icons@VERSION)")
	out := flag.String("out", "internal/badge/logos.json", "file to write")
	flag.Parse()
	if err := run(*version, *tgz, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gen-logos:", err)
		os.Exit(1)
	}
}

func run(version, tgz, out string) error {
	if version == "" || tgz == "" {
		return errors.New("-version and -tgz are required")
	}
	files, err := readTarball(tgz)
	if err != nil {
		return err
	}
	var data []entry
	if err := json.Unmarshal(files["package/data/simple-icons.json"], &data); err != nil {
		return fmt.Errorf("data/simple-icons.json: %w", err)
	}
	bySlug := map[string]entry{}
	for _, e := range data {
		bySlug[e.Slug] = e
	}
	var logos []logo
	for _, s := range slugs {
		e, ok := bySlug[s]
		if !ok {
			return fmt.Errorf("%s: not in simple-icons %s", s, version)
		}
		if e.License != nil && e.License.Type != "CC0-1.0" {
			return fmt.Errorf("%s: licensed %s, not CC0-1.0; take it off the list", s, e.License.Type)
		}
		path, err := iconPath(files["package/icons/"+s+".svg"])
		if err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		logos = append(logos, logo{Name: s, Title: e.Title, Hex: strings.ToLower(e.Hex), Path: path})
	}
	slices.SortFunc(logos, func(a, b logo) int { return strings.Compare(a.Name, b.Name) })

	// One logo a line, so that a regeneration's diff shows which icons changed.
	var b bytes.Buffer
	fmt.Fprintf(&b, "{\"source\":\"simple-icons %s\",\"license\":\"CC0-1.0\",\"logos\":[\n", version)
	for i, l := range logos {
		line, err := json.Marshal(l)
		if err != nil {
			return err
		}
		b.Write(line)
		if i < len(logos)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("]}\n")
	return os.WriteFile(out, b.Bytes(), 0o644)
}

// iconPath is the d of the icon's one path, after checking the icon is what the badge expects:
// a 24x24 view box and a single path.
func iconPath(svg []byte) (string, error) {
	if svg == nil {
		return "", errors.New("no SVG file")
	}
	var doc struct {
		ViewBox string `xml:"viewBox,attr"`
		Paths   []struct {
			D string `xml:"d,attr"`
		} `xml:"path"`
	}
	if err := xml.Unmarshal(svg, &doc); err != nil {
		return "", err
	}
	if doc.ViewBox != "0 0 24 24" || len(doc.Paths) != 1 {
		return "", fmt.Errorf("view box %q and %d paths, want 0 0 24 24 and one", doc.ViewBox, len(doc.Paths))
	}
	if d := doc.Paths[0].D; pathData.MatchString(d) {
		return d, nil
	}
	return "", errors.New("path data holds characters a path does not")
}

// readTarball reads the files the generator needs: the data file and the icons.
func readTarball(name string) (map[string][]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Name != "package/data/simple-icons.json" && !strings.HasPrefix(h.Name, "package/icons/") {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, 16<<20))
		if err != nil {
			return nil, err
		}
		files[h.Name] = b
	}
}
