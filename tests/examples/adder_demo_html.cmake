# The main demo's HTML view labels its attention heatmaps with the prompt's
# tokens: run adder_demo, then look for the labels in the page it wrote.
#
#   cmake -DDEMO=<adder_demo binary> -DMODEL=<models/adder> -DOUT=<page.html>
#         -P tests/examples/adder_demo_html.cmake
cmake_minimum_required(VERSION 3.16)
execute_process(COMMAND ${DEMO} ${MODEL} ${OUT} RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "adder_demo exited with ${rc}")
endif()
file(READ ${OUT} page)
# 123 + 45 = 168 is "<s>321+540=8610": a row label, a column label and a
# tooltip naming both tokens, escaped.
foreach(want "text-anchor=\"end\">&lt;s&gt;</text>" "rotate(-90)\">+</text>"
             "<title>seq=9 (8), kv_seq=0 (&lt;s&gt;): ")
  string(FIND "${page}" "${want}" at)
  if(at LESS 0)
    message(FATAL_ERROR "${OUT} lacks ${want}")
  endif()
endforeach()
message(STATUS "token labels found in ${OUT}")
