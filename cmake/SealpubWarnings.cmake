# Warning flags and sanitizers shared by every sealpub target.
function(sealpub_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes
    -Wvla -Wpointer-arith -Wcast-qual -Wundef -Wno-unused-parameter
    # Truncation by snprintf is the design, not an accident: every message
    # and path buffer has a hard maximum, and lengths that matter are
    # checked explicitly before use.
    -Wno-format-truncation)
  if(SEALPUB_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

if(SEALPUB_SANITIZE)
  add_compile_options(-fsanitize=${SEALPUB_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${SEALPUB_SANITIZE})
endif()
