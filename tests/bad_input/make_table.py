#!/usr/bin/env python3
"""Write tests/bad_input/null_table.h: for every public function that
returns na_status, a case that calls it with NULL for pointer argument i
and valid fixtures (tests/test_bad_input.c) for the others.

Run it after adding or changing public functions:
    python3 tests/bad_input/make_table.py
Functions whose parameter types have no fixture yet are listed at the end
of the table (NULL_SKIPPED) and printed by the suite; add a fixture below."""
import glob
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Parameters a call takes ownership of (fresh layers each call).
OWNED_LAYERS = {"child", "delta", "replacement", "attention", "input_to_query",
                "input_to_key", "input_to_value", "query_key_to_attn",
                "attn_value_to_output", "value"}
# type (normalised) -> fixture expression; pointer types are NULL-able.
FIXTURES = {
    "const na_array *": "A", "na_array *": "A",
    "const na_array *const *": "AS", "na_array **": "&o_arr",
    "const char *": "\"a\"", "const char *const *": "NA_NAMES(\"a\")",
    "const na_dim *": "D1", "const int64_t *": "SZ", "const na_index *": "IDX",
    "const void *": "BUF", "const na_layer *": "L", "na_layer **": "&o_lay",
    "const na_value *": "V", "na_value **": "&o_val", "const na_side *": "S",
    "na_side *": "S", "FILE *": "SINK", "char **": "&o_str", "int *": "&o_int",
    "const na_layer_type *": "&na_identity_type", "na_selection **": "&o_sel",
    "na_selection *": "SEL", "const na_selection *": "SEL", "na_capture **": "&o_cap",
    "na_capture *": "CAP", "const na_capture *": "CAP", "na_safetensors **": "&o_st",
    "const na_safetensors *": "ST", "na_param_list *": "&o_plist",
    "na_param_stats *": "&o_pstats", "const na_labeled_array *": "LABELED",
    "na_layer *const *": "((na_layer *[]){ID()})", "na_layer **root": "&ROOT",
    "const na_html_options *": "NULL", "const na_print_options *": "NULL",
    "int64_t *": "&o_i64", "double *": "&o_dbl", "bool *": "&o_bool",
    "const char **": "&o_cstr", "const char *const **": "&o_names",
    "na_field_ref *": "&o_field", "const na_array **": "&o_carr",
    "na_param **": "&o_param", "na_param *": "P", "const na_param *": "P",
    "na_init *": "INIT", "const na_init *": "INIT",
}
SCALARS = {"int": "1", "int64_t": "1", "uint64_t": "1", "double": "1.0", "bool": "false",
           "size_t": "1", "na_dtype": "NA_F32", "unsigned": "0", "float": "1.0f"}


def params(text):
    text = text.strip()
    if text in ("", "void"):
        return []
    out = []
    for p in text.split(","):
        p = re.sub(r"\s+", " ", p.strip())
        m = re.match(r"(.*?)(\w+)$", p)
        if not m or not m.group(1).strip():
            return None  # an unnamed parameter: no fixture
        typ, name = m.group(1).strip(), m.group(2)
        typ = re.sub(r"\s*\*\s*", " *", typ).replace("* *", "**").replace(" **", " **")
        typ = typ.replace("*const", "*const ").replace("  ", " ").strip()
        out.append((typ, name))
    return out


def fixture(fn, typ, name):
    if typ == "const char *" and name == "path":
        return "g_out_path"  # files go to /tmp, removed at teardown
    if typ == "na_layer *":
        return "ID()" if (fn.endswith("_new") or name in OWNED_LAYERS) else "LSEQ"
    if typ == "na_layer **" and name == "root":
        return "&ROOT"
    if typ.startswith("const na_") and typ.endswith("_options *"):
        return "NULL"  # NULL-able: defaults or a clean error
    if typ.endswith("_fn") or typ == "na_layer_pred":
        return None
    if typ in FIXTURES:
        return FIXTURES[typ]
    if typ in SCALARS or typ.startswith("na_") and "*" not in typ:
        return SCALARS.get(typ, "0")
    return None


def main():
    rows, skipped = [], []
    for h in sorted(glob.glob(os.path.join(ROOT, "include/namedarr/*.h"))):
        t = open(h).read()
        t = re.sub(r"/\*.*?\*/", "", t, flags=re.S)
        t = re.sub(r"//.*", "", t)
        t = re.sub(r"#.*", "", t)
        t = re.sub(r"\s+", " ", t)
        for m in re.finditer(r"\bna_status (na_[a-z0-9_]+)\s*\(([^;{()]*)\)\s*(__attribute__\(\(.*?\)\))?;", t):
            fn, ps = m.group(1), params(m.group(2))
            if fn in ("na_fail",) or "..." in m.group(2):
                continue
            if ps is None:
                skipped.append(fn)
                continue
            args, ptrs, ok = [], [], True
            for typ, name in ps:
                fx = fixture(fn, typ, name)
                if fx is None:
                    ok = False
                    break
                if "*" in typ:
                    args.append("P_(%d, %s)" % (len(ptrs), fx))
                    ptrs.append(name)
                else:
                    args.append(fx)
            if ok and not ptrs:
                continue  # nothing to pass NULL for
            if not ok:
                skipped.append(fn)
                continue
            rows.append((fn, len(ptrs), ", ".join(args)))
    with open(os.path.join(ROOT, "tests/bad_input/null_table.h"), "w") as f:
        f.write("/* Generated by tests/bad_input/make_table.py: do not edit by hand. */\n")
        for fn, n, args in rows:
            f.write("NULL_CASE(%s, %d, %s)\n" % (fn, n, args))
        f.write("#define NULL_SKIPPED \"%s\"\n" % " ".join(skipped))
    print("%d functions, %d skipped: %s" % (len(rows), len(skipped), " ".join(skipped)))


main()
