"""The package is configured in setup.cfg; this only adds the files that ship with it.

The flow, the prompt catalog, the prompt audio and the configuration templates sit at the
top of the repository, where people edit them. A built package carries copies in
`agi/shipped/`, so that an installation outside the checkout has them too
(`agi.settings.shipped` finds either).
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
SHIPPED = ("ivr_flows.yaml", "ivr_scenarios.yaml", "prompts/ru.yaml", "prompts/ru", "config")


class BuildWithShippedFiles(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "agi" / "shipped"
        for relative in SHIPPED:
            source, copy = HERE / relative, target / relative
            copy.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, copy, dirs_exist_ok=True)
            else:
                shutil.copy2(source, copy)


setup(cmdclass={"build_py": BuildWithShippedFiles})
