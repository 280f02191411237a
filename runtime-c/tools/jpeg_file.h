#ifndef ASYMTRACK_JPEG_FILE_H
#define ASYMTRACK_JPEG_FILE_H
/* 8-bit RGB pixels of a JPEG file, malloc'ed (free()); NULL when it cannot be decoded. */
unsigned char* read_jpeg_rgb(const char* path, int* width, int* height);
#endif
