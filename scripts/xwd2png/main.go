// Command xwd2png converts an X window dump (the XWD file that Xvfb keeps
// its screen in with -fbdir, 24/32-bit TrueColor) to PNG. It serves
// scripts/rviz-screenshot.sh, which has no other screenshot tool.
//
//	go run ./scripts/xwd2png IN.xwd OUT.png
package main

import (
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: xwd2png IN.xwd OUT.png")
		os.Exit(2)
	}
	if err := convert(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "xwd2png:", err)
		os.Exit(1)
	}
}

func convert(in, out string) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	if len(data) < 100 {
		return fmt.Errorf("%s: too short for an XWD header", in)
	}
	// XWD header: 25 big-endian uint32 fields.
	h := make([]uint32, 25)
	for i := range h {
		h[i] = binary.BigEndian.Uint32(data[4*i:])
	}
	headerSize, version := h[0], h[1]
	width, height := int(h[4]), int(h[5])
	byteOrder, bpp, bpl := h[7], h[11], int(h[12])
	rMask, gMask, bMask := h[14], h[15], h[16]
	nColors := int(h[19])
	if version != 7 {
		return fmt.Errorf("%s: XWD version %d, want 7", in, version)
	}
	if bpp != 32 && bpp != 24 {
		return fmt.Errorf("%s: %d bits per pixel, want 24 or 32", in, bpp)
	}
	off := int(headerSize) + 12*nColors
	if off+bpl*height > len(data) {
		return fmt.Errorf("%s: %d bytes, want %d", in, len(data), off+bpl*height)
	}
	shift := func(m uint32) uint {
		var s uint
		for m != 0 && m&1 == 0 {
			m >>= 1
			s++
		}
		return s
	}
	rs, gs, bs := shift(rMask), shift(gMask), shift(bMask)
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	step := int(bpp / 8)
	for y := range height {
		row := data[off+y*bpl:]
		for x := range width {
			p := row[x*step:]
			var v uint32
			if byteOrder == 0 { // LSBFirst
				v = uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16
				if step == 4 {
					v |= uint32(p[3]) << 24
				}
			} else {
				v = uint32(p[0])<<16 | uint32(p[1])<<8 | uint32(p[2])
				if step == 4 {
					v = v<<8 | uint32(p[3])
				}
			}
			img.SetRGBA(x, y, color.RGBA{uint8((v & rMask) >> rs), uint8((v & gMask) >> gs), uint8((v & bMask) >> bs), 255})
		}
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
