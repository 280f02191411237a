/*
 * The image decoder of asymtrack-track: stb_image (third_party/, public domain) built for the
 * formats a folder of frames holds (JPEG, PNG, BMP, PPM/PGM). Its own translation unit, so the
 * tool's code keeps the project's warnings and the decoder keeps its upstream form.
 */
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_PNM
#include "stb_image.h"
