"""test/Train/plot-axes.test: reads a --plot SVG and prints its axes and,
per series, how many points lie inside the plotting frame (and whether the
line is dashed), so FileCheck can check the chart without pixels."""
import sys
import xml.dom.minidom as minidom

doc = minidom.parse(sys.argv[1])
frame = [r for r in doc.getElementsByTagName("rect") if r.getAttribute("x")][0]
x0, y0 = float(frame.getAttribute("x")), float(frame.getAttribute("y"))
x1 = x0 + float(frame.getAttribute("width"))
y1 = y0 + float(frame.getAttribute("height"))
texts = [(t.getAttribute("text-anchor"), t.getAttribute("transform"),
          t.firstChild.data if t.firstChild else "")
         for t in doc.getElementsByTagName("text")]
left = [s for a, tr, s in texts if a == "end"]
rotated = [s for a, tr, s in texts if tr]
print("left:", rotated[0], "ticks", " ".join(left))
if len(rotated) > 1:
    print("right:", rotated[1])
legend = [s for a, tr, s in texts if not a and not tr][1:]  # after the title
for line, name in zip(doc.getElementsByTagName("polyline"), legend):
    pts = [tuple(map(float, p.split(","))) for p in
           line.getAttribute("points").split()]
    inside = sum(x0 - 1e-6 <= x <= x1 + 1e-6 and y0 - 1e-6 <= y <= y1 + 1e-6
                 for x, y in pts)
    dashed = ", dashed" if line.getAttribute("stroke-dasharray") else ""
    print("series %s: %d points inside%s" % (name, inside, dashed))
