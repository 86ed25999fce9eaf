"""axe-core (vendored from the npm registry: tools/vendor_assets.py) run in the page under test:
no serious or critical WCAG violation on any page, state or email the browser tests open."""

from pathlib import Path

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text(encoding="utf-8")
BLOCKING = ("serious", "critical")


def violations(page, within: str | None = None) -> list[str]:
    """Serious and critical violations in the page (or the element `within` selects), each as
    "rule: what is wrong (where)"."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(content=AXE)
    found = page.evaluate(
        """async (within) => {
            const result = await axe.run(within ? document.querySelector(within) : document,
                {resultTypes: ["violations"], runOnly: ["wcag2a", "wcag2aa", "wcag21aa", "best-practice"]});
            return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5)}));
        }""",
        within,
    )
    return [
        f"{v['id']}: {v['help']} ({', '.join(v['nodes'])})"
        for v in found
        if v["impact"] in BLOCKING
    ]


def assert_accessible(page, within: str | None = None) -> None:
    problems = violations(page, within)
    assert problems == [], f"{page.url}: " + "; ".join(problems)
