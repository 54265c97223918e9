#!/usr/bin/env bash
# Regenerates every file in data/demo/. Run from the repo root: bash data/demo/generate.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

# Clip 1 — "Dawn over the dunes": procedural sky, rising sun, two drifting dune layers (geq).
ffmpeg -y -hide_banner -loglevel error \
  -f lavfi -i "color=c=black:s=360x640:r=24:d=8" \
  -f lavfi -i "anullsrc=r=48000:cl=mono" \
  -filter_complex "[0:v]format=rgb24,geq=\
r='if(gt(Y,515+26*sin((X+T*6)/70+2)+8*sin(X/23)),120-20*(Y/640),if(gt(Y,440+16*sin((X+T*3)/45+0.8)),185,min(255,70+185*(Y/640)+if(lt(hypot(X-200,Y-(440-14*T)),40),255,120*exp(-hypot(X-200,Y-(440-14*T))/70)))))':\
g='if(gt(Y,515+26*sin((X+T*6)/70+2)+8*sin(X/23)),55-10*(Y/640),if(gt(Y,440+16*sin((X+T*3)/45+0.8)),95,min(255,25+120*pow(Y/640,1.5)+if(lt(hypot(X-200,Y-(440-14*T)),40),225,90*exp(-hypot(X-200,Y-(440-14*T))/70)))))':\
b='if(gt(Y,515+26*sin((X+T*6)/70+2)+8*sin(X/23)),40,if(gt(Y,440+16*sin((X+T*3)/45+0.8)),70,min(255,95-45*(Y/640)+if(lt(hypot(X-200,Y-(440-14*T)),40),150,40*exp(-hypot(X-200,Y-(440-14*T))/70)))))',\
drawtext=fontfile=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf:text='SCENE 1':fontsize=14:fontcolor=white@0.8:x=(w-text_w)/2:y=80:alpha='min(1,max(0,min(t-0.3,6.3-t)))',\
drawtext=fontfile=/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf:text='Dawn over the dunes':fontsize=26:fontcolor=white:shadowcolor=black@0.5:shadowx=2:shadowy=2:x=(w-text_w)/2:y=102:alpha='min(1,max(0,min(t-0.5,6.5-t)))',\
fade=t=in:st=0:d=0.5,fade=t=out:st=7.5:d=0.5,format=yuv420p[v]" \
  -map "[v]" -map 1:a -t 8 \
  -c:v libx264 -preset slow -crf 26 -profile:v high -pix_fmt yuv420p -r 24 -g 48 -maxrate 400k -bufsize 800k \
  -c:a aac -b:a 32k -ar 48000 -ac 1 -movflags +faststart data/demo/clip1.mp4

# Clip 2 — "The signal": an oscilloscope trace (showwaves of a modulated tone) with glow over a grid.
ffmpeg -y -hide_banner -loglevel error \
  -f lavfi -i "color=c=0x06121c:s=360x640:r=24:d=8,drawgrid=w=40:h=40:t=1:c=0x1c3a4a" \
  -f lavfi -i "aevalsrc='0.8*sin(2*PI*0.5*t)*sin(2*PI*(20+8*sin(2*PI*0.25*t))*t)+0.15*sin(2*PI*90*t)':s=48000:d=8" \
  -f lavfi -i "anullsrc=r=48000:cl=mono" \
  -filter_complex "[1:a]showwaves=s=360x640:mode=p2p:rate=24:colors=0x4dffb0:draw=full,format=gbrp,split[w1][w2];\
[w2]gblur=sigma=6[glow];[w1][glow]blend=all_mode=screen[wave];\
[0:v]format=gbrp[bg];[bg][wave]blend=all_mode=screen,format=yuv420p,vignette=PI/4,\
drawtext=fontfile=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf:text='SCENE 2':fontsize=14:fontcolor=white@0.8:x=(w-text_w)/2:y=80:alpha='min(1,max(0,min(t-0.3,6.3-t)))',\
drawtext=fontfile=/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf:text='The signal':fontsize=30:fontcolor=white:shadowcolor=black@0.5:shadowx=2:shadowy=2:x=(w-text_w)/2:y=102:alpha='min(1,max(0,min(t-0.5,6.5-t)))',\
fade=t=in:st=0:d=0.5,fade=t=out:st=7.5:d=0.5,format=yuv420p[v]" \
  -map "[v]" -map 2:a -t 8 \
  -c:v libx264 -preset slow -crf 32 -profile:v high -pix_fmt yuv420p -r 24 -g 48 -maxrate 400k -bufsize 800k \
  -c:a aac -b:a 32k -ar 48000 -ac 1 -movflags +faststart data/demo/clip2.mp4

# Clip 3 — "Night market": Game of Life cells rendered as blurred warm lantern lights (bokeh).
ffmpeg -y -hide_banner -loglevel error \
  -f lavfi -i "life=s=45x80:rate=6:ratio=0.10:seed=7:life_color=0xffb347:death_color=0x080512" \
  -f lavfi -i "life=s=45x80:rate=6:ratio=0.06:seed=42:life_color=0xff3d7f:death_color=0x080512" \
  -f lavfi -i "anullsrc=r=48000:cl=mono" \
  -filter_complex "[0:v]format=gbrp[a];[1:v]format=gbrp,hflip[b];[a][b]blend=all_mode=lighten,\
scale=360x640:flags=neighbor,fps=24,tmix=frames=4,gblur=sigma=4,format=yuv420p,eq=saturation=1.2,vignette=PI/3.5,\
drawtext=fontfile=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf:text='SCENE 3':fontsize=14:fontcolor=white@0.8:x=(w-text_w)/2:y=80:alpha='min(1,max(0,min(t-0.3,6.3-t)))',\
drawtext=fontfile=/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf:text='Night market':fontsize=30:fontcolor=white:shadowcolor=black@0.6:shadowx=2:shadowy=2:x=(w-text_w)/2:y=102:alpha='min(1,max(0,min(t-0.5,6.5-t)))',\
fade=t=in:st=0:d=0.5,fade=t=out:st=7.5:d=0.5,format=yuv420p[v]" \
  -map "[v]" -map 2:a -t 8 \
  -c:v libx264 -preset slow -crf 26 -profile:v high -pix_fmt yuv420p -r 24 -g 48 -maxrate 400k -bufsize 800k \
  -c:a aac -b:a 32k -ar 48000 -ac 1 -movflags +faststart data/demo/clip3.mp4

# Clip 4 — "Into the static": a Mandelbrot zoom that dissolves into TV static.
ffmpeg -y -hide_banner -loglevel error \
  -f lavfi -i "mandelbrot=s=360x640:rate=24:maxiter=1024:start_scale=3:end_scale=0.02:end_pts=400,format=yuv420p" \
  -f lavfi -i "color=c=gray:s=360x640:r=24,format=yuv420p,geq=lum='random(1)*255':cb=128:cr=128" \
  -f lavfi -i "anullsrc=r=48000:cl=mono" \
  -filter_complex "[0:v][1:v]blend=all_expr='A*(1-min(0.85,T/8))+B*min(0.85,T/8)',\
drawtext=fontfile=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf:text='SCENE 4':fontsize=14:fontcolor=white@0.8:x=(w-text_w)/2:y=80:alpha='min(1,max(0,min(t-0.3,6.3-t)))',\
drawtext=fontfile=/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf:text='Into the static':fontsize=28:fontcolor=white:shadowcolor=black@0.7:shadowx=2:shadowy=2:x=(w-text_w)/2:y=102:alpha='min(1,max(0,min(t-0.5,6.5-t)))',\
fade=t=in:st=0:d=0.5,fade=t=out:st=7.5:d=0.5,format=yuv420p[v]" \
  -map "[v]" -map 2:a -t 8 \
  -c:v libx264 -preset slow -crf 34 -profile:v high -pix_fmt yuv420p -r 24 -g 48 -maxrate 350k -bufsize 700k \
  -c:a aac -b:a 32k -ar 48000 -ac 1 -movflags +faststart data/demo/clip4.mp4

# Posters: one 360x640 JPEG frame at 2 s per clip.
for i in 1 2 3 4; do
  ffmpeg -y -hide_banner -loglevel error -ss 2 -i data/demo/clip$i.mp4 -frames:v 1 -q:v 5 data/demo/clip$i.jpg
done

# Test fixtures.
ffmpeg -y -hide_banner -loglevel error -f lavfi -i "testsrc2=s=160x284:r=24:d=2" \
  -c:v libvpx-vp9 -crf 40 -b:v 0 -deadline good -cpu-used 4 -pix_fmt yuv420p -an data/demo/test-short.webm
ffmpeg -y -hide_banner -loglevel error -f lavfi -i "testsrc2=s=160x284:r=24:d=2" -f lavfi -i "anullsrc=r=48000:cl=mono" -t 2 \
  -c:v libx264 -preset slow -crf 32 -profile:v high -pix_fmt yuv420p -c:a aac -b:a 32k -movflags +faststart data/demo/test-short.mp4
ffmpeg -y -hide_banner -loglevel error -f lavfi -i "testsrc2=s=160x284:r=24:d=12" -f lavfi -i "anullsrc=r=48000:cl=mono" -t 12 \
  -c:v libx264 -preset slow -crf 46 -profile:v high -pix_fmt yuv420p -c:a aac -b:a 32k -movflags +faststart data/demo/test-too-long.mp4
# 20 s, 96x64, for the "headers claim a sixth of the duration" test (the
# tests divide the header durations themselves), and 2 s with `moov` after
# `mdat` (no +faststart), for the faststart rewrite.
ffmpeg -y -hide_banner -loglevel error -f lavfi -i "testsrc2=s=96x64:r=10:d=20" -f lavfi -i "anullsrc=r=48000:cl=mono" -t 20 \
  -c:v libx264 -preset veryfast -crf 45 -pix_fmt yuv420p -c:a aac -b:a 8k -movflags +faststart data/demo/test-twenty-seconds.mp4
ffmpeg -y -hide_banner -loglevel error -f lavfi -i "testsrc2=s=96x64:r=24:d=2" -f lavfi -i "anullsrc=r=48000:cl=mono" -t 2 \
  -c:v libx264 -preset veryfast -crf 40 -pix_fmt yuv420p -c:a aac -b:a 8k data/demo/test-moov-at-end.mp4
