"""The C API for other extensions (python/include/cio_python.h): a C
extension (python/examples/cdemo, built here against cio.get_include())
runs C coroutines on the cio loop, and Python awaits them beside its own
tasks: results, errors as exceptions, cancellation both ways, and the clear
error on a loop that is not cio's."""
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import cio

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO = os.path.join(os.path.dirname(HERE), 'examples', 'cdemo')
cdemo = None
build_dir = None


def setUpModule():
    """Builds cdemo in a temporary directory (a failure to build fails the
    tests: the headers must be usable as installed)."""
    global cdemo, build_dir
    build_dir = tempfile.mkdtemp(prefix='cdemo')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    subprocess.run([sys.executable, 'setup.py', '-q', 'build_ext', '--build-lib', build_dir,
                    '--build-temp', os.path.join(build_dir, 'tmp')],
                   cwd=DEMO, env=env, check=True, stdout=subprocess.DEVNULL)
    sys.path.insert(0, build_dir)
    import cdemo as mod
    cdemo = mod


def tearDownModule():
    if build_dir:
        shutil.rmtree(build_dir, ignore_errors=True)


def run(coro):
    return cio.run(coro)


class Results(unittest.TestCase):

    def test_gather_with_python_tasks(self):
        ticks = []

        async def ticker():
            for i in range(4):
                ticks.append(i)
                await asyncio.sleep(0.02)
            return 'py'

        async def main():
            t0 = time.monotonic()
            r = await asyncio.gather(cdemo.sleep_value(0.1, 42), ticker(),
                                     cdemo.sleep_value(0.05, 1.5))
            return r, time.monotonic() - t0

        r, dt = run(main())
        self.assertEqual(r, [42.0, 'py', 1.5])
        self.assertEqual(ticks, [0, 1, 2, 3])  # Python ran while C slept
        self.assertLess(dt, 0.5)
        self.assertGreaterEqual(dt, 0.09)

    def test_int_none_and_task_api(self):
        async def main():
            c = cdemo.number(-12345)
            self.assertTrue(asyncio.iscoroutine(c))
            t = asyncio.create_task(c)
            n = await t
            self.assertTrue(t.done())
            return n, await cdemo.nothing(), t.result()

        self.assertEqual(run(main()), (-12345, None, -12345))

    def test_engine_clock_is_the_loops(self):
        async def main():
            return cdemo.loop_time(), asyncio.get_running_loop().time()

        c, p = run(main())
        self.assertAlmostEqual(c, p, delta=0.01)

    def test_many_concurrent(self):
        async def main():
            return await asyncio.gather(*(cdemo.sleep_value(0.01 * (i % 5), i) for i in range(200)))

        self.assertEqual(run(main()), [float(i) for i in range(200)])


class Errors(unittest.TestCase):

    def test_errno_is_oserror_with_message(self):
        async def main():
            with self.assertRaises(FileNotFoundError) as cm:
                await cdemo.fail(-2, 'no such config: /etc/x')
            self.assertEqual(cm.exception.errno, 2)
            self.assertEqual(cm.exception.strerror, 'no such config: /etc/x')
            with self.assertRaises(TimeoutError) as cm:
                await cdemo.fail(-110, '')  # no message: strerror
            self.assertEqual(cm.exception.errno, 110)
            self.assertTrue(cm.exception.strerror)

        run(main())

    def test_cio_code_is_cioerror(self):
        async def main():
            with self.assertRaises(cio.CioError) as cm:
                await cdemo.fail(cdemo.CIO_ECLOSED, 'the pool is closed')
            e = cm.exception
            self.assertEqual((e.code, e.name, e.message, str(e)),
                             (cdemo.CIO_ECLOSED, 'CIO_ECLOSED', 'the pool is closed',
                              'the pool is closed'))

        run(main())

    def test_error_beside_python_tasks(self):
        async def main():
            return await asyncio.gather(cdemo.fail(-13, 'denied'), asyncio.sleep(0.01, 'ok'),
                                        return_exceptions=True)

        r = run(main())
        self.assertIsInstance(r[0], PermissionError)
        self.assertEqual(r[1], 'ok')

    def test_converter_exception(self):
        async def main():
            with self.assertRaisesRegex(ValueError, 'converter refused'):
                await cdemo.bad_convert()

        run(main())


class Cancellation(unittest.TestCase):

    def test_python_cancels_c_and_waits_for_unwind(self):
        async def main():
            before = cdemo.unwound()
            t = asyncio.create_task(cdemo.forever())
            await asyncio.sleep(0.02)
            self.assertTrue(t.cancel('stop it'))
            with self.assertRaises(asyncio.CancelledError) as cm:
                await t
            self.assertEqual(cm.exception.args, ('stop it',))
            self.assertTrue(t.cancelled())
            # its shielded 50 ms cleanup finished before t did
            self.assertEqual(cdemo.unwound(), before + 1)

        run(main())

    def test_timeout_cancels_c(self):
        async def main():
            before = cdemo.unwound()
            with self.assertRaises(TimeoutError):
                await asyncio.wait_for(cdemo.forever(), 0.02)
            self.assertEqual(cdemo.unwound(), before + 1)
            with self.assertRaises(TimeoutError):
                async with asyncio.timeout(0.02):
                    await cdemo.forever()
            self.assertEqual(cdemo.unwound(), before + 2)

        run(main())

    def test_cancelled_gather_cancels_both(self):
        async def main():
            before = cdemo.unwound()
            py_cancelled = []

            async def py():
                try:
                    await asyncio.sleep(3600)
                except asyncio.CancelledError:
                    py_cancelled.append(1)
                    raise

            c = asyncio.ensure_future(cdemo.forever())
            g = asyncio.gather(c, py())
            await asyncio.sleep(0.02)
            g.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await g
            # gather ends at its first cancelled child (asyncio's rule): the
            # C task's Python task ends once the C task has unwound
            with self.assertRaises(asyncio.CancelledError):
                await c
            self.assertEqual((cdemo.unwound(), py_cancelled), (before + 1, [1]))

        run(main())

    def test_taskgroup_sibling_failure_cancels_c(self):
        async def main():
            before = cdemo.unwound()

            async def boom():
                await asyncio.sleep(0.02)
                raise KeyError('boom')

            with self.assertRaises(ExceptionGroup) as cm:
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(cdemo.forever())
                    tg.create_task(boom())
            self.assertIsInstance(cm.exception.exceptions[0], KeyError)
            # the group waited for the C task's shielded cleanup
            self.assertEqual(cdemo.unwound(), before + 1)

        run(main())

    def test_c_cancels_itself(self):
        async def main():
            t = asyncio.create_task(cdemo.cancel_self())
            with self.assertRaises(asyncio.CancelledError) as cm:
                await t
            self.assertEqual(cm.exception.args, ('cancelled by C',))
            self.assertTrue(t.cancelled())

        run(main())

    def test_left_running_at_shutdown(self):
        before = cdemo.unwound()

        async def main():
            # never awaited: cio.run cancels it at the end
            asyncio.create_task(cdemo.forever())
            await asyncio.sleep(0.01)

        run(main())
        self.assertEqual(cdemo.unwound(), before + 1)

    def test_never_awaited_never_runs(self):
        import gc
        import warnings

        async def main():
            before = cdemo.released()
            with warnings.catch_warnings():
                warnings.simplefilter('ignore', RuntimeWarning)  # never awaited
                c = cdemo.sleep_value(0.01, 1)
                del c
                gc.collect()
            self.assertEqual(cdemo.released(), before + 1)
            await cdemo.sleep_value(0.01, 2)
            self.assertEqual(cdemo.released(), before + 2)

        run(main())


class LoopCheck(unittest.TestCase):

    def test_not_a_cio_loop(self):
        async def main():
            with self.assertRaisesRegex(RuntimeError, 'not a cio event loop'):
                cdemo.loop_time()
            with self.assertRaisesRegex(RuntimeError, 'not a cio event loop'):
                cdemo.sleep_value(0.01, 1)

        asyncio.run(main())  # asyncio's own loop

    def test_no_running_loop(self):
        with self.assertRaisesRegex(RuntimeError, 'no running event loop'):
            cdemo.loop_time()
        # Called before a loop runs, the coroutine takes the loop it runs on
        loop = cio.new_event_loop()
        try:
            self.assertEqual(loop.run_until_complete(cdemo.sleep_value(0.01, 3)), 3.0)
        finally:
            loop.close()
        c = cdemo.sleep_value(0.01, 4)
        with self.assertRaisesRegex(RuntimeError, 'not a cio event loop'):
            asyncio.run(c)  # asyncio's loop: refused when it starts

    def test_closed_with_c_tasks_pending(self):
        """A loop closed under pending C tasks (nobody cancelled them): no
        crash, and the tasks are not run further."""
        before = cdemo.released()
        loop = cio.new_event_loop()
        ts = [loop.create_task(cdemo.forever()), loop.create_task(cdemo.sleep_value(10, 1))]
        loop.run_until_complete(asyncio.sleep(0.02))
        loop.close()
        self.assertFalse(any(t.done() for t in ts))
        self.assertEqual(cdemo.released(), before + 1)  # sleep_value's argument

    def test_one_engine(self):
        """cdemo references no cio_* symbol: it calls the engine in _cio."""
        nm = shutil.which('nm')
        if not nm:
            self.skipTest('no nm')
        out = subprocess.run([nm, '-D', cdemo.__file__], capture_output=True, text=True,
                             check=True).stdout
        self.assertNotIn(' cio_', out)


if __name__ == '__main__':
    unittest.main()
