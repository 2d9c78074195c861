#!/usr/bin/env bash
# Sourced by .gpu/run.sh and .gpu/jobs.sh on a GPU machine: Vulkan and EGL loaders carried as
# Debian packages in .gl/ (apt-get download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1
# libglx0 libgles2), the NVIDIA driver's ICD files, and Deno unpacked from .gpu/deno.xz to
# /tmp/deno (once per machine).
for f in .gl/*.deb; do [ -f "$f" ] && dpkg -x "$f" /; done
ldconfig 2>/dev/null
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES=$icd
egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
[ -f "$egl" ] && export __EGL_VENDOR_LIBRARY_FILENAMES=$egl
[ -x /tmp/deno ] || { xz -T0 -dc "$here/deno.xz" > /tmp/deno && chmod +x /tmp/deno; }
