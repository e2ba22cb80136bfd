# lc_embed_files(<output.cpp> NAMESPACE <ns> HEADER <header.h> FILES <a> <b> ...): a custom
# command that writes <output.cpp> with the files' bytes (cmake/embed_files.cmake), re-run
# when a file, the list or the script changes. Add <output.cpp> to a target's sources.
set(LC_EMBED_FILES_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/embed_files.cmake)
function(lc_embed_files output)
  cmake_parse_arguments(E "" "NAMESPACE;HEADER" "FILES" ${ARGN})
  # The files are named in the command, so adding or removing one regenerates the source.
  string(REPLACE ";" "|" inputs "${E_FILES}")
  add_custom_command(OUTPUT ${output}
    COMMAND ${CMAKE_COMMAND} "-DINPUTS=${inputs}" -DOUTPUT=${output} -DNAMESPACE=${E_NAMESPACE}
            -DHEADER=${E_HEADER} -P ${LC_EMBED_FILES_SCRIPT}
    DEPENDS ${E_FILES} ${LC_EMBED_FILES_SCRIPT}
    COMMENT "Embedding ${output}" VERBATIM)
endfunction()
