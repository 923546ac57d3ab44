/* hmap.c - linear probing with backward-shift deletion (no tombstones, so
 * look-ups stay short however many workers come and go); grows at 3/4. */
#include <stdlib.h>
#include <string.h>

#include "hmap.h"
#include "util.h"

static uint64_t hash_key(const struct hmap *m, uintptr_t key)
{
        uint64_t h;

        if (m->strings) {
                h = 1469598103934665603ULL; /* FNV-1a */
                for (const unsigned char *p = (const unsigned char *)key; *p; p++)
                        h = (h ^ *p) * 1099511628211ULL;
        } else {
                h = (uint64_t)key + 0x9e3779b97f4a7c15ULL; /* splitmix64's finaliser */
                h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
                h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
                h ^= h >> 31;
        }
        return h;
}

static bool key_eq(const struct hmap *m, uintptr_t a, uintptr_t b)
{
        return m->strings ? strcmp((const char *)a, (const char *)b) == 0 : a == b;
}

/* The slot holding key, or the free slot where it would go. */
static size_t find(const struct hmap *m, uintptr_t key)
{
        size_t mask = m->cap - 1, i = (size_t)hash_key(m, key) & mask;

        while (m->v[i].val && !key_eq(m, m->v[i].key, key))
                i = (i + 1) & mask;
        return i;
}

void *hmap_get(const struct hmap *m, uintptr_t key)
{
        return m->cap ? m->v[find(m, key)].val : NULL;
}

static void grow(struct hmap *m)
{
        struct hmap_slot *old = m->v;
        size_t old_cap = m->cap;

        m->cap = m->cap ? 2 * m->cap : 16;
        m->v = xcalloc(m->cap, sizeof *m->v);
        for (size_t i = 0; i < old_cap; i++)
                if (old[i].val)
                        m->v[find(m, old[i].key)] = old[i];
        free(old);
}

void hmap_put(struct hmap *m, uintptr_t key, void *val)
{
        size_t i;

        if ((m->n + 1) * 4 > m->cap * 3)
                grow(m);
        i = find(m, key);
        m->n += m->v[i].val == NULL;
        m->v[i] = (struct hmap_slot){ key, val };
}

void *hmap_del(struct hmap *m, uintptr_t key)
{
        size_t mask = m->cap - 1, i, j;
        void *val;

        if (!m->cap)
                return NULL;
        i = find(m, key);
        val = m->v[i].val;
        if (!val)
                return NULL;
        m->n--;
        /* shift back every later entry of the run that may sit past its home */
        for (j = (i + 1) & mask; m->v[j].val; j = (j + 1) & mask) {
                size_t home = (size_t)hash_key(m, m->v[j].key) & mask;

                /* j's entry may move to i when its home is not in (i, j] */
                if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
                        m->v[i] = m->v[j];
                        i = j;
                }
        }
        m->v[i] = (struct hmap_slot){ 0 };
        return val;
}

void hmap_done(struct hmap *m)
{
        free(m->v);
        m->v = NULL;
        m->cap = m->n = 0;
}
