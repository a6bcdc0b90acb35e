# LibTorch headers dominate compile time; every torch-using library reuses one precompiled header.
add_library(duet_torch_pch STATIC ${CMAKE_CURRENT_LIST_DIR}/torch_pch.cc)
target_link_libraries(duet_torch_pch PUBLIC ${TORCH_LIBRARIES})
target_precompile_headers(duet_torch_pch PUBLIC <torch/torch.h>)

# duet_use_torch(target): link LibTorch and reuse the shared precompiled header.
function(duet_use_torch target)
  target_link_libraries(${target} PUBLIC ${TORCH_LIBRARIES})
  target_precompile_headers(${target} REUSE_FROM duet_torch_pch)
endfunction()
