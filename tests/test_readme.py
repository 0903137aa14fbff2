from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_ci_runs_exactly_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    ci_command = (REPO / ".ci/run").read_text().strip().splitlines()[-1]
    assert ci_command.endswith("python -m pytest -q")
    assert f"\n{ci_command}\n" in readme
