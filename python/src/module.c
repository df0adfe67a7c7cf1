/*
 * module.c - the _cio extension module: registers the loop core and the
 * handle types, exports the C API capsule (capi.c) and looks up the
 * asyncio helpers they call; transport.c adds the socket transport type,
 * asgi.c the ASGI server's types.
 */
#include "cio_py.h"

PyObject *cio_str_call_exception_handler;
PyObject *cio_str_log_slow;
PyObject *cio_str_check_thread;
PyObject *cio_format_cb;

static PyMethodDef cio_functions[] = {
    {"_set_c_task_starter", cio_set_c_task_starter, METH_O, NULL},
    {NULL}};

static struct PyModuleDef cio_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "cio._cio",
    .m_doc = "The asyncio event loop core on cio's C engine.",
    .m_size = -1,
    .m_methods = cio_functions,
};

PyMODINIT_FUNC PyInit__cio(void)
{
    if (PyType_Ready(&CioHandle_Type) < 0 || PyType_Ready(&CioTimerHandle_Type) < 0 ||
        PyType_Ready(&CioLoop_Type) < 0)
        return NULL;
    cio_str_call_exception_handler = PyUnicode_InternFromString("call_exception_handler");
    cio_str_log_slow = PyUnicode_InternFromString("_log_slow_callback");
    cio_str_check_thread = PyUnicode_InternFromString("_check_thread");
    if (!cio_str_call_exception_handler || !cio_str_log_slow || !cio_str_check_thread)
        return NULL;
    PyObject *fh = PyImport_ImportModule("asyncio.format_helpers");
    if (!fh)
        return NULL;
    cio_format_cb = PyObject_GetAttrString(fh, "_format_callback_source");
    Py_DECREF(fh);
    if (!cio_format_cb)
        return NULL;
    PyObject *m = PyModule_Create(&cio_module);
    if (!m)
        return NULL;
    Py_INCREF(&CioHandle_Type);
    Py_INCREF(&CioTimerHandle_Type);
    Py_INCREF(&CioLoop_Type);
    if (PyModule_AddObject(m, "Handle", (PyObject *)&CioHandle_Type) < 0 ||
        PyModule_AddObject(m, "TimerHandle", (PyObject *)&CioTimerHandle_Type) < 0 ||
        PyModule_AddObject(m, "_LoopCore", (PyObject *)&CioLoop_Type) < 0 ||
        cio_capi_init(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    if (cio_transport_init(m) < 0 || cio_asgi_init(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
