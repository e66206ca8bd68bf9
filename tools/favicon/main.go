// Command favicon writes internal/httpapi/favicon.ico: the site's icon, a bar chart (the
// counter page's chart, in its blue) on a rounded square, 32x32.
//
// Why drawn by a program and not kept as a design file: the icon is three bars and a square,
// which a few lines say exactly, and a program can be re-run to change a colour. Why an ICO
// holding a PNG: /favicon.ico is what browsers ask for unprompted, and every current browser
// reads a PNG inside an ICO; the PNG is a few hundred bytes where the classic bitmap would be
// four kilobytes. The server only embeds the file; image/png stays out of its binary.
//
// Run it through go generate in internal/httpapi (see the go:generate line in favicon.go).
package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"image"
	"image/color"
	"image/png"
	"log"
	"os"
)

const size = 32

// The page's colours (internal/httpapi/page.go, pageStyle): its blue, and white bars.
var (
	background = color.NRGBA{0x09, 0x69, 0xda, 0xff}
	bars       = color.NRGBA{0xff, 0xff, 0xff, 0xff}
)

// radius is the square's corners, in pixels.
const radius = 6

// bar is one bar of the chart: its left edge, width and height, standing on baseline.
type bar struct{ x, w, h int }

const baseline = 26

var chart = []bar{{7, 5, 9}, {14, 5, 15}, {21, 5, 20}}

// samples is how many sub-pixels a pixel is cut into along each side, so that the rounded
// corners are smooth: a pixel's opacity is the share of its sub-pixels inside the square.
const samples = 4

func main() {
	out := flag.String("out", "favicon.ico", "where to write the icon")
	flag.Parse()
	var pngBytes bytes.Buffer
	if err := png.Encode(&pngBytes, draw()); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, ico(pngBytes.Bytes()), 0o644); err != nil {
		log.Fatal(err)
	}
}

func draw() *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for y := range size {
		for x := range size {
			inside := 0
			for sy := range samples {
				for sx := range samples {
					fx := float64(x) + (float64(sx)+0.5)/samples
					fy := float64(y) + (float64(sy)+0.5)/samples
					if inRoundedSquare(fx, fy) {
						inside++
					}
				}
			}
			if inside == 0 {
				continue
			}
			c := background
			if onBar(x, y) {
				c = bars
			}
			c.A = uint8(255 * inside / (samples * samples))
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func inRoundedSquare(x, y float64) bool {
	// The nearest point of the square shrunk by radius; inside if within radius of it.
	cx := min(max(x, radius), size-radius)
	cy := min(max(y, radius), size-radius)
	dx, dy := x-cx, y-cy
	return dx*dx+dy*dy <= radius*radius
}

func onBar(x, y int) bool {
	for _, b := range chart {
		if x >= b.x && x < b.x+b.w && y >= baseline-b.h && y < baseline {
			return true
		}
	}
	return false
}

// ico wraps one PNG image as an ICO file: the ICONDIR header, one ICONDIRENTRY, the image.
func ico(img []byte) []byte {
	var b bytes.Buffer
	le := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	le(uint16(0)) // reserved
	le(uint16(1)) // type: icon
	le(uint16(1)) // one image
	le(uint8(size))
	le(uint8(size))
	le(uint8(0))  // no palette
	le(uint8(0))  // reserved
	le(uint16(1)) // colour planes
	le(uint16(32))
	le(uint32(len(img)))
	le(uint32(6 + 16)) // the image follows the header and the one entry
	b.Write(img)
	return b.Bytes()
}
