"""Checks that an HTML page loads nothing: no element or attribute that
fetches (script src, link, img, iframe, object, embed, source, audio,
video, href/src/xlink:href/srcset/poster/data/action to anything but a
fragment), no CSS url() or @import, no <script> but inline JSON data, and
"http://" or "https://" only in xmlns namespace declarations (SVG's, which
name the namespace and are never fetched). Prints `offline: ok`, or each
problem."""
import html.parser
import re
import sys

LOADING_TAGS = {"link", "img", "iframe", "object", "embed", "source",
                "audio", "video", "frame", "base", "track"}
URL_ATTRS = {"src", "href", "xlink:href", "srcset", "poster", "data",
             "action", "background", "formaction"}


class Check(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems = []
        self.in_style = False

    def handle_starttag(self, tag, attrs):
        if tag in LOADING_TAGS:
            self.problems.append("<%s> element" % tag)
        if tag == "script" and dict(attrs).get("type") != "application/json":
            self.problems.append("<script> that is not inline JSON data")
        for name, value in attrs:
            value = value or ""
            if name.startswith("xmlns"):
                continue
            if name in URL_ATTRS and not value.startswith("#"):
                self.problems.append("%s=%r on <%s>" % (name, value, tag))
            elif re.search(r"https?://", value):
                self.problems.append("URL in %s on <%s>" % (name, tag))
            if name == "style" and re.search(r"url\(|@import", value):
                self.problems.append("url() in a style attribute")
        self.in_style = tag == "style"

    def handle_endtag(self, tag):
        self.in_style = False

    def handle_data(self, data):
        if self.in_style and re.search(r"url\(|@import", data):
            self.problems.append("url() or @import in <style>")


page = open(sys.argv[1], encoding="utf-8").read()
c = Check()
c.feed(page)
# Outside tags too (text, comments, the JSON): no URL at all but the
# namespaces.
rest = re.sub(r'xmlns(:\w+)?="[^"]*"', "", page)
for url in re.findall(r"https?://[^\s\"'<>]*", rest):
    c.problems.append("URL in the page: " + url)
print("offline: ok" if not c.problems else "\n".join(c.problems))
