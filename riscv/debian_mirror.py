"""Print the Debian mirror this machine's apt uses: the first main-archive URI of its own
sources (deb822 ``.sources`` or one-line ``.list``), not a security archive. riscv/setup.sh
and machine/build.sh build from it, since no other package host is reachable here."""
import glob
import re

uris = []
for path in sorted(glob.glob("/etc/apt/sources.list") + glob.glob("/etc/apt/sources.list.d/*.list")
                   + glob.glob("/etc/apt/sources.list.d/*.sources")):
    try:
        text = open(path).read()
    except OSError:
        continue
    if path.endswith(".sources"):
        for stanza in re.split(r"\n\s*\n", text):
            fields = dict(re.findall(r"^([A-Za-z-]+):\s*(.*)$", stanza, re.M))
            if "deb" in fields.get("Types", "").split() and fields.get("Enabled", "yes") != "no":
                suites = fields.get("Suites", "").split()
                uris += [(u, suites) for u in fields.get("URIs", "").split()]
    else:
        for line in text.splitlines():
            parts = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
            if len(parts) >= 3 and parts[0] == "deb":
                uris.append((parts[1], [parts[2]]))
for uri, suites in uris:
    if uri.rstrip("/").endswith("/debian") and not any(s.endswith("-security") for s in suites):
        print(uri)
        break
