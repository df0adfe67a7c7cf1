"""Builds the cio extension (import cio) against the cio engine in ../.

    make python                                        # in place, from the top
    /usr/bin/python3 -m pip install --no-build-isolation ./python

Offline: setuptools from Debian (python3-setuptools), the C headers from
python3-dev.  The engine is built first with CMake as a position-
independent static library (in python/build/engine, or CIO_ENGINE_BUILD)
and linked into the extension, so the installed module needs no libcio.

The C API for other extensions (python/include/cio_python.h) is installed
with the package, beside the engine's headers, in cio/include
(cio.get_include()).
"""
import glob
import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
# CIO_SANITIZE=address (or address,undefined): the engine and the extension
# built with those sanitizers, Debug, the engine in a directory of its own
# (python/tests/asan.sh; the interpreter then needs libasan preloaded).
SANITIZE = os.environ.get('CIO_SANITIZE', '')
ENGINE = os.environ.get('CIO_ENGINE_BUILD', os.path.join(
    HERE, 'build', 'engine-' + SANITIZE.replace(',', '-') if SANITIZE else 'engine'))
SAN_FLAGS = (['-fsanitize=' + SANITIZE, '-fno-omit-frame-pointer', '-fno-sanitize-recover=all']
             if SANITIZE else [])


def copy_headers():
    """cio/include: cio_python.h and the engine headers it includes, for
    client extensions (package data; also there for in-place builds)."""
    dst = os.path.join(HERE, 'cio', 'include')
    os.makedirs(os.path.join(dst, 'cio'), exist_ok=True)
    srcs = ([os.path.join(TOP, 'include', 'cio.h')] +
            glob.glob(os.path.join(HERE, 'include', '*.h')))
    for src in srcs:
        shutil.copyfile(src, os.path.join(dst, os.path.basename(src)))
    for src in glob.glob(os.path.join(TOP, 'include', 'cio', '*.h')):
        shutil.copyfile(src, os.path.join(dst, 'cio', os.path.basename(src)))


class BuildWithEngine(build_ext):
    """build_ext that first builds libcio.a with CMake."""

    def run(self):
        # The capsule's engine table follows the public headers.
        subprocess.check_call([sys.executable, os.path.join(HERE, 'tools', 'gen_engine_table.py')])
        copy_headers()  # again: the table may have grown
        os.makedirs(ENGINE, exist_ok=True)
        subprocess.check_call([
            'cmake', '-S', TOP, '-B', ENGINE,
            '-DCMAKE_BUILD_TYPE=' + ('Debug' if SANITIZE else 'RelWithDebInfo'),
            '-DCIO_SANITIZE=' + SANITIZE,
            '-DCIO_BUILD_TESTS=OFF', '-DCIO_BUILD_EXAMPLES=OFF',
            '-DCMAKE_POSITION_INDEPENDENT_CODE=ON'], stdout=subprocess.DEVNULL)
        subprocess.check_call(['cmake', '--build', ENGINE, '--target', 'cio_static',
                               '-j', str(os.cpu_count() or 2)])
        # The archive needs what the engine was configured with (liburing,
        # libpq, cJSON when found): the same list cio.pc gives static users.
        libs = engine_libraries()
        for e in self.extensions:
            e.libraries = libs
        super().run()


def engine_libraries():
    """The -l names of the engine build's cio.pc Libs.private line."""
    with open(os.path.join(ENGINE, 'cio.pc')) as f:
        for line in f:
            if line.startswith('Libs.private:'):
                return [w[2:] for w in line.split()[1:] if w.startswith('-l')]
    raise RuntimeError('no Libs.private in ' + os.path.join(ENGINE, 'cio.pc'))


ext = Extension(
    'cio._cio',
    sources=[os.path.join('src', f) for f in ('module.c', 'handle.c', 'loop.c', 'capi.c',
                                              'transport.c', 'transport_proto.c',
                                              'transport_write.c', 'asgi.c', 'asgi_cycle.c',
                                              'asgi_x.c',
                                              'asgi_scope.c', 'asgi_ws.c', 'asgi_tls.c')],
    include_dirs=[os.path.join(TOP, 'include'), os.path.join(HERE, 'include')],
    extra_objects=[os.path.join(ENGINE, 'libcio.a')],
    # Relink when the engine changed, not only when module sources did.
    depends=[os.path.join(ENGINE, 'libcio.a'), os.path.join(HERE, 'include', 'cio_python.h'),
             os.path.join(HERE, 'include', 'cio_python_engine.h')],
    libraries=[],  # engine_libraries(), once the engine is configured
    extra_compile_args=['-std=gnu11', '-Wall', '-Wextra', '-Wshadow',
                        '-Wno-unused-parameter', '-Wno-missing-field-initializers'] + SAN_FLAGS
                       + (['-O0', '-g'] if SANITIZE else []),
    extra_link_args=SAN_FLAGS,
)

copy_headers()

setup(
    name='cio',
    version='1.0.0',
    description='The asyncio event loop on the cio C engine',
    packages=['cio'],
    package_data={'cio': ['include/*.h', 'include/cio/*.h']},
    ext_modules=[ext],
    cmdclass={'build_ext': BuildWithEngine},
    python_requires='>=3.11',
)
