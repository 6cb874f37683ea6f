# Render the HTML view in headless Chromium and check what the browser did.
#
#   cmake -DEXAMPLE=<html_view binary> -DCHROMIUM=<chromium binary>
#         -DWORK_DIR=<scratch dir> -P tests/browser/render_html.cmake
#
# 1. html_view writes model.html (a one-block model and its attention
#    weights);
# 2. a copy with tests/browser/probe.js appended is loaded with --dump-dom:
#    the probe reports how many heatmaps and cells the browser laid out with
#    a real size and colour, and whether closing a <details> hides its
#    heatmap; the tree's labels must be in the DOM;
# 3. model.html itself (no script) is screenshotted: the PNG must be
#    1200x900 and far from blank.
cmake_minimum_required(VERSION 3.16)

foreach(var EXAMPLE CHROMIUM WORK_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "render_html: -D${var}=... is required")
  endif()
endforeach()
if(NOT EXISTS "${CHROMIUM}" OR IS_DIRECTORY "${CHROMIUM}")
  message(FATAL_ERROR "render_html: NAMEDARR_BROWSER_TESTS is ON but Chromium was "
                      "not found ('${CHROMIUM}'). Install it (Debian: apt-get install "
                      "-y chromium) or point -DNAMEDARR_CHROMIUM= at the binary.")
endif()

# The expected picture of the example (see examples/html_view.c):
# attention weights {batch:1, heads:4, seq:10, kv_seq:10} -> 4 heatmaps,
# embed 1, block_0/norm 1, query/key/value 4 each, output 4, final_norm 1.
set(WANT_HEATMAPS 23)
set(WANT_CELLS 5840)
set(WANT_DETAILS 24)
set(WANT_LABELS
  "attention weights, block_0 (causal)"
  "EmbeddingLookup"
  "EmbeddingDecode"
  "block_0/attention/query.weights"
  "f32[embedding:32, heads:4, projection:8]"
  "batch=0, heads=3"
  "# total: 24 layers, 5,440 params (1 shared, counted once)")

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
set(page "${WORK_DIR}/model.html")

execute_process(COMMAND "${EXAMPLE}" "${page}" RESULT_VARIABLE rc
                OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
if(NOT rc EQUAL 0 OR NOT EXISTS "${page}")
  message(FATAL_ERROR "render_html: ${EXAMPLE} failed (${rc}):\n${out}${err}")
endif()

set(flags --headless --no-sandbox --disable-gpu --disable-extensions
          --no-first-run --hide-scrollbars --mute-audio
          "--user-data-dir=${WORK_DIR}/profile")

# ---- 2. the DOM, with the probe ------------------------------------------
file(READ "${page}" html)
file(READ "${CMAKE_CURRENT_LIST_DIR}/probe.js" probe)
string(REPLACE "</body>" "<script>\n${probe}</script>\n</body>" probed "${html}")
file(WRITE "${WORK_DIR}/probe.html" "${probed}")
execute_process(COMMAND "${CHROMIUM}" ${flags} --window-size=1200,900
                        --virtual-time-budget=5000 --dump-dom
                        "file://${WORK_DIR}/probe.html"
                RESULT_VARIABLE rc OUTPUT_VARIABLE dom ERROR_VARIABLE err TIMEOUT 180)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "render_html: chromium --dump-dom failed (${rc}):\n${err}")
endif()
file(WRITE "${WORK_DIR}/dom.html" "${dom}")
string(REGEX MATCH "PROBE heatmaps=[0-9]+[^<']* END" line "${dom}")
if(line STREQUAL "")
  message(FATAL_ERROR "render_html: the probe did not run; DOM saved in "
                      "${WORK_DIR}/dom.html\n${err}")
endif()
message(STATUS "render_html: ${line}")
set(want "PROBE heatmaps=${WANT_HEATMAPS} visible=${WANT_HEATMAPS} cells=${WANT_CELLS} drawn=${WANT_CELLS} folds=1 details=${WANT_DETAILS} END")
if(NOT line STREQUAL want)
  message(FATAL_ERROR "render_html: the browser laid out\n  ${line}\nwanted\n  ${want}")
endif()
foreach(label IN LISTS WANT_LABELS)
  string(FIND "${dom}" "${label}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "render_html: the rendered DOM lacks \"${label}\"")
  endif()
endforeach()

# ---- 3. a screenshot of the page as shipped ---------------------------------
set(png "${WORK_DIR}/model.png")
execute_process(COMMAND "${CHROMIUM}" ${flags} --window-size=1200,900
                        "--screenshot=${png}" "file://${page}"
                WORKING_DIRECTORY "${WORK_DIR}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 180)
if(NOT rc EQUAL 0 OR NOT EXISTS "${png}")
  message(FATAL_ERROR "render_html: chromium --screenshot failed (${rc}):\n${err}")
endif()
file(READ "${png}" head LIMIT 24 HEX)
# PNG signature, IHDR, width 1200 (0x4b0), height 900 (0x384).
if(NOT head STREQUAL "89504e470d0a1a0a0000000d49484452000004b000000384")
  message(FATAL_ERROR "render_html: ${png} is not a 1200x900 PNG (starts ${head})")
endif()
file(SIZE "${png}" size)
# A 1200x900 page with one heading compresses to about 6 KB; this one,
# with heatmaps and text, to about 40 KB.
if(size LESS 20000)
  message(FATAL_ERROR "render_html: the screenshot is only ${size} bytes: nearly blank?")
endif()
message(STATUS "render_html: screenshot ${png} (${size} bytes) looks real")
