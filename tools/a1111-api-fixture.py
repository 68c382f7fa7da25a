#!/usr/bin/env python3
"""Writes tests/Redraft.Server.Tests/Fixtures/a1111-api.json: the JSON shape of every AUTOMATIC1111 route Redraft
answers, read from A1111's own source at one commit.

Usage (a clone or bare mirror of AUTOMATIC1111/stable-diffusion-webui, and of lllyasviel/stable-diffusion-webui-forge
for the one Forge route):

    python3 tools/a1111-api-fixture.py A1111_GIT_DIR FORGE_GIT_DIR > tests/Redraft.Server.Tests/Fixtures/a1111-api.json

It reads the files with `git show COMMIT:PATH` and parses them with Python's `ast` (nothing of A1111 is imported
or run), so the fixture says exactly what the source says:

- pydantic response models (modules/api/models.py) with their field types; pydantic v1 (A1111 1.10's) makes a
  field nullable when it is Optional[...] or defaults to None;
- the route table (the add_api_route calls in modules/api/api.py) with each route's response_model;
- the request models, built as models.py builds them: the init fields of the processing dataclasses
  (modules/processing.py), every one wrapped in Optional, plus the "additional fields" of models.py;
- the Options model: every OptionInfo in the tree, typed as models.py types it (the default's type, int widened to
  float by Options.typemap; Any when the default is falsy; always Optional);
- the Flags model (cmd-flags): every parser.add_argument of modules/cmd_args.py and the built-in extensions'
  preload.py, typed by its default (str when the default is None, which pydantic v1 then makes nullable).

Routes without a response model (loras, memory's inner dicts, interrupt, skip, the refresh and checkpoint routes,
/internal/ping, Forge's sd-modules item) get a shape derived by hand from the code that builds their answer; each
says so in its "source" note.
"""

import ast
import json
import subprocess
import sys

A1111_COMMIT = "82a973c04367123ae98bd9abdf80d9eda9b910e2"  # tag v1.10.1
FORGE_COMMIT = "dfdcbab685e57677014f05a3309b48cc87383167"  # Forge main, 2025-06-26: has /sdapi/v1/sd-modules


def show(git_dir, commit, path):
    return subprocess.run(["git", "-C", git_dir, "show", f"{commit}:{path}"], check=True, capture_output=True, text=True).stdout


def ls(git_dir, commit, pattern):
    out = subprocess.run(["git", "-C", git_dir, "ls-tree", "-r", "--name-only", commit], check=True, capture_output=True, text=True).stdout
    return [p for p in out.splitlines() if pattern(p)]


SCALARS = {"str": "string", "int": "integer", "float": "number", "bool": "boolean", "dict": "object", "list": "array",
           "tuple": "array", "Any": "any", "Image": "string", "object": "any"}


def type_of(node, models):
    """A type spec {"type", "nullable", "items"/"values"/"model"} for an annotation node."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return type_of(ast.parse(node.value, mode="eval").body, models)
    if isinstance(node, ast.Constant) and node.value is None:
        return {"type": "null", "nullable": True}
    if isinstance(node, ast.Attribute):
        return type_of(ast.Name(id=node.attr), models)
    if isinstance(node, ast.Name):
        if node.id in models:
            return {"type": "object", "nullable": False, "model": node.id}
        if node.id not in SCALARS:
            return {"type": "any", "nullable": True}
        return {"type": SCALARS[node.id], "nullable": SCALARS[node.id] == "any"}
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        left, right = type_of(node.left, models), type_of(node.right, models)
        if right["type"] == "null":
            return {**left, "nullable": True}
        if left["type"] == "null":
            return {**right, "nullable": True}
        return {"type": "any", "nullable": left["nullable"] or right["nullable"]}
    if isinstance(node, ast.Subscript):
        outer = node.value.id if isinstance(node.value, ast.Name) else node.value.attr
        args = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if outer == "Optional":
            return {**type_of(args[0], models), "nullable": True}
        if outer in ("list", "List"):
            return {"type": "array", "nullable": False, "items": type_of(args[0], models)}
        if outer in ("dict", "Dict"):
            return {"type": "object", "nullable": False, "values": type_of(args[1], models)}
        if outer == "Literal":
            return {"type": "integer" if all(isinstance(a.value, int) for a in args) else "string", "nullable": False}
    raise ValueError(f"unknown annotation {ast.dump(node)}")


def default_is_none(value):
    """Whether a field's default (`= x` or `Field(default=x)`) is None."""
    if value is None:
        return False
    if isinstance(value, ast.Constant):
        return value.value is None
    if isinstance(value, ast.Call) and getattr(value.func, "id", None) == "Field":
        for kw in value.keywords:
            if kw.arg == "default":
                return isinstance(kw.value, ast.Constant) and kw.value.value is None
        # Field(title=...) without a default: required, unless the annotation is Optional (pydantic v1 then defaults to None).
    return False


def pydantic_models(source):
    tree = ast.parse(source)
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    names = {c.name for c in classes}
    models = {}
    for cls in classes:
        base = cls.bases[0].id if cls.bases and isinstance(cls.bases[0], ast.Name) else None
        if base not in ("BaseModel",) and base not in models:
            continue
        fields = dict(models[base]["fields"]) if base in models else {}
        for stmt in cls.body:
            if isinstance(stmt, ast.AnnAssign):
                spec = type_of(stmt.annotation, names)
                if default_is_none(stmt.value):
                    spec = {**spec, "nullable": True}
                fields[stmt.target.id] = spec
        models[cls.name] = {"source": "modules/api/models.py", "fields": fields}
    return models


def api_routes(source):
    """(path, method, response model expression or None, handler) of every add_api_route in Api.__init__."""
    routes = []
    for call in ast.walk(ast.parse(source)):
        if not (isinstance(call, ast.Call) and getattr(call.func, "attr", None) == "add_api_route"):
            continue
        if not isinstance(call.args[0], ast.Constant):
            continue
        kw = {k.arg: k.value for k in call.keywords}
        methods = [e.value for e in kw["methods"].elts]
        model = kw.get("response_model")
        routes.append((call.args[0].value, methods[0], ast.unparse(model) if model is not None else None, ast.unparse(call.args[1])))
    return routes


def dataclass_init_fields(source, class_name):
    """Init fields of a @dataclass class: annotated class attributes not declared with field(init=False)."""
    tree = ast.parse(source)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name)
    fields = {}
    for stmt in cls.body:
        if not isinstance(stmt, ast.AnnAssign):
            continue
        value = stmt.value
        if isinstance(value, ast.Call) and getattr(value.func, "id", None) == "field":
            if any(k.arg == "init" and isinstance(k.value, ast.Constant) and k.value.value is False for k in value.keywords):
                continue
        fields[stmt.target.id] = (stmt.annotation, value)
    return fields


API_NOT_ALLOWED = None  # read from models.py


def request_model(models_src, processing_src, class_name, base_name):
    """The request model models.py generates: merged init params (subclass first, base-class values win), all Optional."""
    tree = ast.parse(models_src)
    not_allowed = next(ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "API_NOT_ALLOWED")
    merged = {}
    for name in (class_name, base_name):
        for key, (annotation, value) in dataclass_init_fields(processing_src, name).items():
            merged[key] = (annotation, value)
    fields = {}
    for key, (annotation, value) in merged.items():
        if key in not_allowed:
            continue
        fields[key] = {**type_of(annotation, set()), "nullable": True}
    # The "additional fields" list of the generator call: {"key", "type", "default"[, "exclude"]}.
    generator = next(n for n in tree.body if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)
                     and isinstance(n.value.func, ast.Attribute) and n.value.func.attr == "generate_model"
                     and n.value.func.value.args[1].id == class_name)
    for entry in generator.value.func.value.args[2].elts:
        d = {k.value: v for k, v in zip(entry.keys, entry.values)}
        spec = type_of(d["type"], set())
        fields[d["key"].value] = {**spec, "nullable": isinstance(d["default"], ast.Constant) and d["default"].value is None}
    return fields


def options_model(git_dir):
    """Every option key: Optional[type(default) with int→float] when the default is truthy, else Any (models.py)."""
    fields = {}
    notes = {}
    for path in ls(git_dir, A1111_COMMIT, lambda p: p.endswith(".py") and (p.startswith("modules/") or p.startswith("extensions-builtin/"))):
        src = show(git_dir, A1111_COMMIT, path)
        if "OptionInfo" not in src and "OptionHTML" not in src:
            continue
        for node in ast.walk(ast.parse(src)):
            pairs = []
            if isinstance(node, ast.Dict):
                pairs = [(k, v) for k, v in zip(node.keys, node.values) if isinstance(k, ast.Constant) and isinstance(k.value, str)]
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_option" and node.args and isinstance(node.args[0], ast.Constant):
                pairs = [(node.args[0], node.args[1])]
            for key, value in pairs:
                call = value
                while isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Call):
                    call = call.func.value  # OptionInfo(...).info(...).link(...)
                if not isinstance(call, ast.Call):
                    continue
                ctor = call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", None)
                if ctor not in ("OptionInfo", "OptionHTML", "OptionDiv"):
                    continue
                if ctor == "OptionDiv":
                    spec, why = "string", None
                elif ctor == "OptionHTML":
                    spec, why = "string", None
                else:
                    default = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "default"), ast.Constant(None))
                    try:
                        v = ast.literal_eval(default)
                        if not v:
                            spec, why = "any", None
                        else:
                            spec = {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object", tuple: "array"}[type(v)]
                            why = None
                    except ValueError:
                        spec, why = "any", f"default is an expression ({ast.unparse(default)[:60]}): typed Any here"
                fields[key.value] = {"type": spec, "nullable": True}
                if why:
                    notes[key.value] = why
    return fields, notes


def flags_model(git_dir):
    """cmd-flags: every argparse dest, typed by its default (str when None; pydantic v1 makes a None default nullable)."""
    fields = {}
    paths = ["modules/cmd_args.py"] + ls(git_dir, A1111_COMMIT, lambda p: p.startswith("extensions-builtin/") and p.endswith("/preload.py"))
    for path in paths:
        for node in ast.walk(ast.parse(show(git_dir, A1111_COMMIT, path))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_argument"):
                continue
            kw = {k.arg: k.value for k in node.keywords}
            option = next((a.value for a in node.args if a.value.startswith("--")), node.args[0].value)
            dest = kw["dest"].value if "dest" in kw else option.lstrip("-").replace("-", "_")
            action = kw["action"].value if "action" in kw else None
            if action == "store_true":
                default = False
            elif action == "store_false":
                default = True
            elif "default" in kw:
                try:
                    default = ast.literal_eval(kw["default"])
                except ValueError:
                    d = kw["default"]
                    default = {} if isinstance(d, ast.Call) and getattr(d.func, "id", None) == "dict" else "<path>"
            else:
                default = None
            if default is None:
                spec = {"type": "string", "nullable": True}
            else:
                spec = {"type": {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}[type(default)], "nullable": False}
            fields[dest] = spec
    return fields


def t(type_, nullable=False, **more):
    return {"type": type_, "nullable": nullable, **more}


def main():
    a1111, forge = sys.argv[1], sys.argv[2]
    models_src = show(a1111, A1111_COMMIT, "modules/api/models.py")
    api_src = show(a1111, A1111_COMMIT, "modules/api/api.py")
    processing_src = show(a1111, A1111_COMMIT, "modules/processing.py")

    models = pydantic_models(models_src)
    models["StableDiffusionProcessingTxt2Img"] = {
        "source": "modules/api/models.py PydanticModelGenerator over modules/processing.py StableDiffusionProcessingTxt2Img",
        "fields": request_model(models_src, processing_src, "StableDiffusionProcessingTxt2Img", "StableDiffusionProcessing")}
    models["StableDiffusionProcessingImg2Img"] = {
        "source": "modules/api/models.py PydanticModelGenerator over modules/processing.py StableDiffusionProcessingImg2Img",
        "fields": request_model(models_src, processing_src, "StableDiffusionProcessingImg2Img", "StableDiffusionProcessing")}
    option_fields, option_notes = options_model(a1111)
    models["Options"] = {
        "source": "modules/api/models.py OptionsModel over every OptionInfo of modules/ and extensions-builtin/",
        "open": True,
        "note": "Dynamic: every field Optional; a falsy default types the field Any; ints are widened to float (Options.typemap). "
                "A1111 answers every key; Redraft answers the keys of redraft_required and may add others of this list.",
        "redraft_required": ["sd_model_checkpoint", "sd_checkpoint_hash", "sd_vae", "CLIP_stop_at_last_layers", "live_previews_enable",
                             "show_progress_every_n_steps", "samples_format", "eta_noise_seed_delta", "randn_source"],
        "fields": option_fields,
        "field_notes": option_notes}
    models["Flags"] = {
        "source": "modules/api/models.py FlagsModel over modules/cmd_args.py and extensions-builtin/*/preload.py",
        "open": True,
        "note": "Dynamic: type(default), str when the default is None (then nullable). A1111 answers every flag (credentials "
                "included); Redraft answers the ones that mean something for it and never --api-auth.",
        "redraft_required": ["api", "nowebui", "port", "listen", "ckpt_dir", "lora_dir", "vae_dir"],
        "fields": flags_model(a1111)}

    # Shapes A1111 builds without a response model, derived from the code that builds them.
    models["ProgressState"] = {
        "source": "modules/shared_state.py State.dict() (ProgressResponse.state is an untyped dict); types of the class attributes",
        "fields": {"skipped": t("boolean"), "interrupted": t("boolean"), "stopping_generation": t("boolean"), "job": t("string"),
                   "job_count": t("integer"), "job_timestamp": t("string"), "job_no": t("integer"),
                   "sampling_step": t("integer"), "sampling_steps": t("integer")}}
    models["GenerationInfo"] = {
        "source": "modules/processing.py Processed.js() (the info string of txt2img/img2img, JSON); types from the "
                  "StableDiffusionProcessing fields they copy",
        "fields": {"prompt": t("string"), "all_prompts": t("array", items=t("string")), "negative_prompt": t("string"),
                   "all_negative_prompts": t("array", items=t("string")), "seed": t("integer"), "all_seeds": t("array", items=t("integer")),
                   "subseed": t("integer"), "all_subseeds": t("array", items=t("integer")), "subseed_strength": t("number"),
                   "width": t("integer"), "height": t("integer"), "sampler_name": t("string"), "cfg_scale": t("number"),
                   "steps": t("integer"), "batch_size": t("integer"), "restore_faces": t("boolean", True),
                   "face_restoration_model": t("string", True), "sd_model_name": t("string", True), "sd_model_hash": t("string", True),
                   "sd_vae_name": t("string", True), "sd_vae_hash": t("string", True), "seed_resize_from_w": t("integer"),
                   "seed_resize_from_h": t("integer"), "denoising_strength": t("number", True), "extra_generation_params": t("object"),
                   "index_of_first_image": t("integer"), "infotexts": t("array", items=t("string")), "styles": t("array", items=t("string")),
                   "job_timestamp": t("string"), "clip_skip": t("integer"), "is_using_inpainting_conditioning": t("boolean"),
                   "version": t("string", True)}}
    models["LoraItem"] = {
        "source": "extensions-builtin/Lora/scripts/lora_script.py create_lora_json (no response model): name, alias, path "
                  "(NetworkOnDisk.filename), metadata (the safetensors __metadata__, JSON-looking values parsed)",
        "fields": {"name": t("string"), "alias": t("string"), "path": t("string"), "metadata": t("object")}}
    models["MemoryRam"] = {
        "source": "modules/api/api.py get_memory: psutil rss (int) and total = 100*rss/percent (float); {error} when psutil fails",
        "fields": {"free": t("number"), "used": t("number"), "total": t("number")}}
    models["MemoryError"] = {"source": "modules/api/api.py get_memory: {'error': str} (cuda without CUDA: 'unavailable')",
                             "fields": {"error": t("string")}}
    models["MemoryCuda"] = {
        "source": "modules/api/api.py get_memory with CUDA: system/active/allocated/reserved/inactive/events dicts",
        "fields": {k: t("object") for k in ("system", "active", "allocated", "reserved", "inactive", "events")}}
    # MemoryResponse's ram and cuda are untyped dicts; give them the shapes get_memory builds.
    models["MemoryResponse"]["fields"] = {
        "ram": t("object", oneOf=[{"model": "MemoryRam"}, {"model": "MemoryError"}]),
        "cuda": t("object", oneOf=[{"model": "MemoryCuda"}, {"model": "MemoryError"}])}
    models["ProgressResponse"]["fields"]["state"] = t("object", model="ProgressState")
    for name in ("TextToImageResponse", "ImageToImageResponse"):
        models[name]["fields"]["info"] = t("string", json=("GenerationInfo"))
    models["TextToImageResponse"]["fields"]["parameters"] = t("object", model="StableDiffusionProcessingTxt2Img")
    models["ImageToImageResponse"]["fields"]["parameters"] = t("object", model="StableDiffusionProcessingImg2Img")

    # The web UI's task routes (modules/progress.py), which clients that send force_task_id poll.
    progress_models = pydantic_models(show(a1111, A1111_COMMIT, "modules/progress.py"))
    models["InternalProgressResponse"] = {**progress_models["ProgressResponse"], "source": "modules/progress.py ProgressResponse"}
    models["PendingTasksResponse"] = {**progress_models["PendingTasksResponse"], "source": "modules/progress.py PendingTasksResponse"}

    forge_models = pydantic_models(show(forge, FORGE_COMMIT, "modules/api/models.py"))
    models["SDModuleItem"] = {**forge_models["SDModuleItem"], "source": f"lllyasviel/stable-diffusion-webui-forge@{FORGE_COMMIT} modules/api/models.py"}

    table = {(path, method): (model, handler) for path, method, model, handler in api_routes(api_src)}

    def response(path, method):
        model, handler = table[(path, method)]
        if model is None:
            return None, handler
        model = model.replace("models.", "")
        if model.startswith("list["):
            return {"kind": "list", "item": model[5:-1]}, handler
        named = {"OptionsModel": "Options", "FlagsModel": "Flags"}.get(model, model)
        return {"kind": "object", "model": named}, handler

    routes = []
    wanted = [
        ("POST", "/sdapi/v1/txt2img"), ("POST", "/sdapi/v1/img2img"), ("GET", "/sdapi/v1/progress"), ("POST", "/sdapi/v1/interrupt"),
        ("POST", "/sdapi/v1/skip"), ("GET", "/sdapi/v1/options"), ("POST", "/sdapi/v1/options"), ("GET", "/sdapi/v1/samplers"),
        ("GET", "/sdapi/v1/schedulers"), ("GET", "/sdapi/v1/sd-models"), ("GET", "/sdapi/v1/sd-vae"), ("GET", "/sdapi/v1/sd-modules"),
        ("GET", "/sdapi/v1/loras"), ("GET", "/sdapi/v1/hypernetworks"), ("GET", "/sdapi/v1/upscalers"), ("GET", "/sdapi/v1/realesrgan-models"),
        ("GET", "/sdapi/v1/latent-upscale-modes"), ("GET", "/sdapi/v1/embeddings"), ("GET", "/sdapi/v1/prompt-styles"),
        ("GET", "/sdapi/v1/scripts"), ("GET", "/sdapi/v1/script-info"), ("GET", "/sdapi/v1/extensions"), ("GET", "/sdapi/v1/face-restorers"),
        ("GET", "/sdapi/v1/memory"), ("GET", "/sdapi/v1/cmd-flags"), ("POST", "/sdapi/v1/png-info"), ("POST", "/sdapi/v1/refresh-checkpoints"),
        ("POST", "/sdapi/v1/refresh-vae"), ("POST", "/sdapi/v1/refresh-loras"), ("POST", "/sdapi/v1/refresh-embeddings"),
        ("POST", "/sdapi/v1/unload-checkpoint"), ("POST", "/sdapi/v1/reload-checkpoint"), ("GET", "/internal/ping"),
        ("POST", "/internal/progress"), ("GET", "/internal/pending-tasks"),
    ]
    # What the handlers without a response model return, read from their code.
    returns = {
        "interruptapi": ({"kind": "object", "fields": {}}, "returns {}"),
        "skip": ({"kind": "null"}, "returns None"),
        "set_config": ({"kind": "null"}, "returns None (opts.save, bare return)"),
        "refresh_checkpoints": ({"kind": "null"}, "returns None"),
        "refresh_vae": ({"kind": "null"}, "returns None"),
        "refresh_embeddings": ({"kind": "null"}, "returns None"),
        "unloadapi": ({"kind": "object", "fields": {}}, "returns {} after sd_models.unload_model_weights()"),
        "reloadapi": ({"kind": "object", "fields": {}}, "returns {} after sd_models.send_model_to_device(shared.sd_model)"),
    }
    for method, path in wanted:
        entry = {"method": method, "path": path}
        if (path, method) in table:
            shape, handler = response(path, method)
            entry["handler"] = f"modules/api/api.py Api.{handler.replace('self.', '')}"
            if shape is None:
                shape, why = returns[handler.replace("self.", "")]
                entry["source"] = f"no response model; {handler.replace('self.', '')} {why}"
            entry["response"] = shape
        elif path == "/sdapi/v1/loras":
            entry["handler"] = "extensions-builtin/Lora/scripts/lora_script.py api_networks get_loras"
            entry["source"] = "no response model: a list of create_lora_json dicts"
            entry["response"] = {"kind": "list", "item": "LoraItem"}
        elif path == "/sdapi/v1/refresh-loras":
            entry["handler"] = "extensions-builtin/Lora/scripts/lora_script.py api_networks refresh_loras"
            entry["source"] = "no response model: returns networks.list_available_networks(), which returns None"
            entry["response"] = {"kind": "null"}
        elif path == "/internal/progress":
            entry["handler"] = "modules/progress.py setup_progress_api progressapi"
            entry["response"] = {"kind": "object", "model": "InternalProgressResponse"}
        elif path == "/internal/pending-tasks":
            entry["handler"] = "modules/progress.py get_pending_tasks"
            entry["source"] = "no response model on the route; get_pending_tasks returns a PendingTasksResponse"
            entry["response"] = {"kind": "object", "model": "PendingTasksResponse"}
        elif path == "/internal/ping":
            entry["handler"] = "modules/ui.py setup_ui_api"
            entry["source"] = "no response model: lambda: {}"
            entry["response"] = {"kind": "object", "fields": {}}
        elif path == "/sdapi/v1/sd-modules":
            entry["handler"] = f"lllyasviel/stable-diffusion-webui-forge@{FORGE_COMMIT} modules/api/api.py get_sd_vaes_and_text_encoders"
            entry["source"] = "not an A1111 1.10 route: Forge's list of VAEs and text encoders (clients probe it to tell Forge from A1111)"
            entry["response"] = {"kind": "list", "item": "SDModuleItem"}
        else:
            raise KeyError(path)
        routes.append(entry)

    used = set()

    def collect(name):
        if name in used:
            return
        used.add(name)

        def walk(spec):
            if "model" in spec:
                collect(spec["model"])
            for key in ("items", "values"):
                if key in spec:
                    walk(spec[key])
            for alt in spec.get("oneOf", []):
                walk(alt)
            if "json" in spec:
                collect(spec["json"])
        for spec in models[name]["fields"].values():
            walk(spec)
    for r in routes:
        for key in ("model", "item"):
            if key in r["response"]:
                collect(r["response"][key])

    fixture = {
        "about": "The JSON shape of AUTOMATIC1111's answer on every route Redraft serves, generated by tools/a1111-api-fixture.py "
                 "from A1111's source (not from a running A1111). Types are JSON's: string, integer, number (integer or not), "
                 "boolean, array, object, any; nullable = the value may be null. An object model lists every key A1111 "
                 "answers; an 'open' model (options, cmd-flags) lists every key A1111 may answer, of which Redraft answers a "
                 "subset (redraft_required at least). 'json' on a string field: the string is JSON of that model.",
        "source": {"repository": "AUTOMATIC1111/stable-diffusion-webui", "tag": "v1.10.1", "commit": A1111_COMMIT,
                   "files": ["modules/api/models.py", "modules/api/api.py", "modules/processing.py", "modules/shared_state.py",
                             "modules/shared_options.py", "modules/cmd_args.py", "modules/ui.py", "modules/progress.py",
                             "extensions-builtin/Lora/scripts/lora_script.py"]},
        "forge": {"repository": "lllyasviel/stable-diffusion-webui-forge", "commit": FORGE_COMMIT, "for": ["/sdapi/v1/sd-modules"]},
        "routes": routes,
        "models": {name: models[name] for name in sorted(used)},
    }
    json.dump(fixture, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
