"""Builds the compiled fast path of entry normalisation (see src/timberyard/_fastmodel.pyx)."""

from Cython.Build import cythonize
from setuptools import Extension, setup

setup(
    ext_modules=cythonize(
        [Extension("timberyard._fastmodel", ["src/timberyard/_fastmodel.pyx"], optional=True)],
        compiler_directives={"language_level": "3"},
        quiet=True,
    )
)
