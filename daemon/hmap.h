/* hmap.h - an open-addressing hash map from a key to a non-NULL pointer,
 * for O(1) look-ups: pid -> worker or hook, name -> worker. Keys are either
 * integers or strings that the values own (the map borrows them: remove an
 * entry before its key string is freed). Nothing here logs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hmap_slot {
        uintptr_t key; /* the integer, or the string's address */
        void *val;     /* NULL: free slot */
};

struct hmap {
        struct hmap_slot *v;
        size_t cap, n; /* cap: 0 or a power of two */
        bool strings;  /* keys are const char * compared by content */
};

#define HMAP_INIT_INT { .strings = false }
#define HMAP_INIT_STR { .strings = true }

void *hmap_get(const struct hmap *m, uintptr_t key);
/* Adds or replaces; val must not be NULL. */
void hmap_put(struct hmap *m, uintptr_t key, void *val);
/* Removes key; returns its value or NULL. */
void *hmap_del(struct hmap *m, uintptr_t key);
void hmap_done(struct hmap *m);

static inline void *hmap_get_str(const struct hmap *m, const char *k) { return hmap_get(m, (uintptr_t)k); }
