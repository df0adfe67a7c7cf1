"""Builds cdemo, a C extension running C coroutines on the cio loop.

    python3 setup.py build_ext --inplace     # cio importable (PYTHONPATH)

It needs only cio's headers (cio.get_include()), never libcio: the cio_*
calls go to the engine inside cio._cio through its C API capsule.
"""
from setuptools import Extension, setup

import cio

setup(
    name='cdemo',
    version='1.0',
    ext_modules=[Extension('cdemo', sources=['cdemo.c'], include_dirs=[cio.get_include()],
                           extra_compile_args=['-std=gnu11', '-Wall', '-Wextra', '-Wshadow',
                                               '-Wno-unused-parameter'])],
)
