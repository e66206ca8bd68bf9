package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hitcounter/hitcounter/internal/badge"
)

func TestSVGTexts(t *testing.T) {
	svg, err := badge.Render(badge.Badge{Label: "hits", Message: "12345", Color: "blue", LabelColor: badge.DefaultLabelColor, Style: badge.StyleFlat})
	if err != nil {
		t.Fatal(err)
	}
	root, texts, err := svgTexts(svg)
	if err != nil || root != "svg" || len(texts) == 0 || texts[len(texts)-1] != "12345" {
		t.Errorf("svgTexts(badge) = %q, %q, %v; want root svg, last text 12345", root, texts, err)
	}
	for _, bad := range []string{`{"value":1}`, `<svg><text>1</text>`, ``} {
		if root, _, err := svgTexts([]byte(bad)); err == nil && root == "svg" {
			t.Errorf("svgTexts(%q) accepted it", bad)
		}
	}
}

func TestBadgeScript(t *testing.T) {
	b := &bench{work: t.TempDir()}
	path, err := b.writeBadgeScript()
	if err != nil {
		t.Fatal(err)
	}
	body := readFile(path)
	// The Lua pattern must be the Go one, so that the sample after the rounds uses the row's agents.
	want := fmt.Sprintf("local path, agent, n = %q, %q, %d", badgePath(), badgeAgentFormat, badgeAgents)
	if !strings.Contains(body, want) || !strings.Contains(body, "%04d") || strings.Contains(body, "%!") {
		t.Errorf("badge script:\n%s\nwant the line %s", body, want)
	}
	if badgeAgent(7) == badgeAgent(8) || !strings.HasSuffix(badgeAgent(7), "visitor/0007") {
		t.Errorf("badgeAgent(7) = %q", badgeAgent(7))
	}
}
