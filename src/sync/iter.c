/*
 * iter.c - the asynchronous iterator interface (cio/iter.h): checked
 * dispatch to an implementation's next and aclose.  Implementations live
 * with their objects (gen.c, and queues and streams elsewhere).
 */
#include "../loop/loop.h"
#include "cio/iter.h"

int cio_aiter_init(cio_aiter *it, const cio_aiter_ops *ops, void *self)
{
    if (!it || !ops || !ops->next)
        return cio__bad_arg(NULL, __func__, !it ? "it is NULL" : "ops or ops->next is NULL");
    it->ops = ops;
    it->self = self;
    return 0;
}

int cio_aiter_next(cio_aiter *it, void **value)
{
    if (!it || !it->ops || !it->ops->next || !value)
        return cio__bad_arg(NULL, __func__,
                            !value ? "value is NULL" : "iterator is NULL or not initialised");
    return it->ops->next(it->self, value);
}

int cio_aiter_aclose(cio_aiter *it)
{
    if (!it || !it->ops)
        return cio__bad_arg(NULL, __func__, "iterator is NULL or not initialised");
    return it->ops->aclose ? it->ops->aclose(it->self) : 0;
}
