/* A small JSON reader for the log tests: parses one line holding one object whose values
 * are strings, numbers, null, true/false or objects, into a flat list of fields
 * ("args.key" for nested keys), in order. Rejects anything else and trailing bytes. */
#ifndef RSHM_JSON_H
#define RSHM_JSON_H

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

enum jtype { J_STR, J_NUM, J_NULL, J_BOOL };

struct jfield {
    char key[64];
    enum jtype type;
    char val[512];
};

struct jobj {
    int n;
    struct jfield f[32];
};

struct jparser {
    const char *s;
    int bad;
};

static void j_ws(struct jparser *p) {
    while (*p->s == ' ' || *p->s == '\t')
        p->s++;
}

static int j_string(struct jparser *p, char *out, size_t cap) {
    size_t n = 0;
    if (*p->s != '"')
        return -1;
    p->s++;
    while (*p->s && *p->s != '"') {
        char c = *p->s++;
        if ((unsigned char)c < 0x20)
            return -1;
        if (c == '\\') {
            char e = *p->s++;
            switch (e) {
            case '"': c = '"'; break;
            case '\\': c = '\\'; break;
            case '/': c = '/'; break;
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'u':
                for (int i = 0; i < 4; i++)
                    if (!isxdigit((unsigned char)p->s[i]))
                        return -1;
                c = (char)strtol((char[]){p->s[0], p->s[1], p->s[2], p->s[3], 0}, NULL, 16);
                p->s += 4;
                break;
            default: return -1;
            }
        }
        if (n + 1 < cap)
            out[n++] = c;
    }
    if (*p->s != '"')
        return -1;
    p->s++;
    out[n] = 0;
    return 0;
}

static int j_object(struct jparser *p, struct jobj *o, const char *prefix);

static int j_value(struct jparser *p, struct jobj *o, const char *key) {
    j_ws(p);
    if (*p->s == '{')
        return j_object(p, o, key);
    if (o->n >= 32)
        return -1;
    struct jfield *f = &o->f[o->n];
    snprintf(f->key, sizeof f->key, "%s", key);
    if (*p->s == '"') {
        f->type = J_STR;
        if (j_string(p, f->val, sizeof f->val))
            return -1;
    } else if (!strncmp(p->s, "null", 4)) {
        f->type = J_NULL;
        strcpy(f->val, "null");
        p->s += 4;
    } else if (!strncmp(p->s, "true", 4) || !strncmp(p->s, "false", 5)) {
        f->type = J_BOOL;
        int t = p->s[0] == 't';
        strcpy(f->val, t ? "true" : "false");
        p->s += t ? 4 : 5;
    } else if (*p->s == '-' || isdigit((unsigned char)*p->s)) {
        f->type = J_NUM;
        const char *start = p->s;
        if (*p->s == '-')
            p->s++;
        if (!isdigit((unsigned char)*p->s))
            return -1;
        while (isdigit((unsigned char)*p->s) || *p->s == '.' || *p->s == 'e' || *p->s == 'E' || *p->s == '+' ||
               *p->s == '-')
            p->s++;
        snprintf(f->val, sizeof f->val, "%.*s", (int)(p->s - start), start);
    } else {
        return -1;
    }
    o->n++;
    return 0;
}

static int j_object(struct jparser *p, struct jobj *o, const char *prefix) {
    j_ws(p);
    if (*p->s != '{')
        return -1;
    p->s++;
    j_ws(p);
    if (*p->s == '}') {
        p->s++;
        return 0;
    }
    for (;;) {
        char key[64], full[64];
        j_ws(p);
        if (j_string(p, key, sizeof key))
            return -1;
        size_t pl = strlen(prefix), kl = strlen(key);
        if (pl + 1 + kl + 1 > sizeof full)
            return -1;
        memcpy(full, prefix, pl);
        if (pl)
            full[pl++] = '.';
        memcpy(full + pl, key, kl + 1);
        j_ws(p);
        if (*p->s != ':')
            return -1;
        p->s++;
        if (j_value(p, o, full))
            return -1;
        j_ws(p);
        if (*p->s == ',') {
            p->s++;
            continue;
        }
        if (*p->s == '}') {
            p->s++;
            return 0;
        }
        return -1;
    }
}

/* Parses `line` (one object, then optional newline). 0 on success. */
static int json_parse(const char *line, struct jobj *o) {
    struct jparser p = {line, 0};
    o->n = 0;
    if (j_object(&p, o, ""))
        return -1;
    if (*p.s == '\n')
        p.s++;
    return *p.s ? -1 : 0;
}

/* The field `key`, or NULL. */
static const struct jfield *json_get(const struct jobj *o, const char *key) {
    for (int i = 0; i < o->n; i++)
        if (!strcmp(o->f[i].key, key))
            return &o->f[i];
    return NULL;
}

/* True when field `key` exists with type `t` and text `val`. */
__attribute__((unused)) static int json_is(const struct jobj *o, const char *key, enum jtype t, const char *val) {
    const struct jfield *f = json_get(o, key);
    return f && f->type == t && !strcmp(f->val, val);
}

#endif
