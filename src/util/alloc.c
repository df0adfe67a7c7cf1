/*
 * alloc.c - the allocator hook.  Every allocation in cio goes through
 * cio__malloc/realloc/free, so a user may supply an allocator (Lua's
 * lua_Alloc) and tests may make the Nth allocation fail.
 */
#include <stdlib.h>

#include "internal.h"

static void *default_alloc(void *ud, void *ptr, size_t size)
{
    (void)ud;
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, size);
}

static cio_alloc_fn *alloc_fn = default_alloc;
static void *alloc_ud;
int cio__loops_alive;

int cio_set_allocator(cio_alloc_fn *fn, void *ud)
{
    if (__atomic_load_n(&cio__loops_alive, __ATOMIC_ACQUIRE) > 0)
        return CIO_ERUNNING;
    alloc_fn = fn ? fn : default_alloc;
    alloc_ud = fn ? ud : NULL;
    return 0;
}

void *cio__malloc(size_t size)
{
    void *p = alloc_fn(alloc_ud, NULL, size ? size : 1);
    if (!p)
        errno = ENOMEM;
    return p;
}

void *cio__calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = cio__malloc(n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void *cio__realloc(void *ptr, size_t size)
{
    void *p = alloc_fn(alloc_ud, ptr, size ? size : 1);
    if (!p)
        errno = ENOMEM;
    return p;
}

void cio__free(void *ptr)
{
    if (ptr) {
        int saved = errno;
        alloc_fn(alloc_ud, ptr, 0);
        errno = saved;
    }
}

char *cio__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = cio__malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

void *cio_malloc(size_t size) { return cio__malloc(size); }
void cio_free(void *ptr) { cio__free(ptr); }
