"""Sequence tables of the public benchmarks: the LaSOT test split (protocol II, 280 videos) and the
frame ranges of OTB-100 and UAV123 sequences that start later in their image folder, end earlier,
or share a folder with another sequence. These are facts about the datasets (the same ranges
every toolkit uses); the readers (``lasot.py``, ``tables.py``) use them so results line up frame
for frame with published numbers.
"""
from __future__ import annotations

# LaSOT protocol II test split, as class-index names; folders are <class>/<name>.
LASOT_TEST: tuple[str, ...] = tuple("""
airplane-1 airplane-9 airplane-13 airplane-15 basketball-1 basketball-6 basketball-7
basketball-11 bear-2 bear-4 bear-6 bear-17 bicycle-2 bicycle-7 bicycle-9 bicycle-18 bird-2
bird-3 bird-15 bird-17 boat-3 boat-4 boat-12 boat-17 book-3 book-10 book-11 book-19 bottle-1
bottle-12 bottle-14 bottle-18 bus-2 bus-5 bus-17 bus-19 car-2 car-6 car-9 car-17 cat-1 cat-3
cat-18 cat-20 cattle-2 cattle-7 cattle-12 cattle-13 spider-14 spider-16 spider-18 spider-20
coin-3 coin-6 coin-7 coin-18 crab-3 crab-6 crab-12 crab-18 surfboard-12 surfboard-4 surfboard-5
surfboard-8 cup-1 cup-4 cup-7 cup-17 deer-4 deer-8 deer-10 deer-14 dog-1 dog-7 dog-15 dog-19
guitar-3 guitar-8 guitar-10 guitar-16 person-1 person-5 person-10 person-12 pig-2 pig-10 pig-13
pig-18 rubicCube-1 rubicCube-6 rubicCube-14 rubicCube-19 swing-10 swing-14 swing-17 swing-20
drone-13 drone-15 drone-2 drone-7 pool-12 pool-15 pool-3 pool-7 rabbit-10 rabbit-13 rabbit-17
rabbit-19 racing-10 racing-15 racing-16 racing-20 robot-1 robot-19 robot-5 robot-8 sepia-13
sepia-16 sepia-6 sepia-8 sheep-3 sheep-5 sheep-7 sheep-9 skateboard-16 skateboard-19
skateboard-3 skateboard-8 tank-14 tank-16 tank-6 tank-9 tiger-12 tiger-18 tiger-4 tiger-6
train-1 train-11 train-20 train-7 truck-16 truck-3 truck-6 truck-7 turtle-16 turtle-5 turtle-8
turtle-9 umbrella-17 umbrella-19 umbrella-2 umbrella-9 yoyo-15 yoyo-17 yoyo-19 yoyo-7 zebra-10
zebra-14 zebra-16 zebra-17 elephant-1 elephant-12 elephant-16 elephant-18 goldfish-3 goldfish-7
goldfish-8 goldfish-10 hat-1 hat-2 hat-5 hat-18 kite-4 kite-6 kite-10 kite-15 motorcycle-1
motorcycle-3 motorcycle-9 motorcycle-18 mouse-1 mouse-8 mouse-9 mouse-17 flag-3 flag-9 flag-5
flag-2 frog-3 frog-4 frog-20 frog-9 gametarget-1 gametarget-2 gametarget-7 gametarget-13 hand-2
hand-3 hand-9 hand-16 helmet-5 helmet-11 helmet-19 helmet-13 licenseplate-6 licenseplate-12
licenseplate-13 licenseplate-15 electricfan-1 electricfan-10 electricfan-18 electricfan-20
chameleon-3 chameleon-6 chameleon-11 chameleon-20 crocodile-3 crocodile-4 crocodile-10
crocodile-14 gecko-1 gecko-5 gecko-16 gecko-19 fox-2 fox-3 fox-5 fox-20 giraffe-2 giraffe-10
giraffe-13 giraffe-15 gorilla-4 gorilla-6 gorilla-9 gorilla-13 hippo-1 hippo-7 hippo-9 hippo-20
horse-1 horse-4 horse-12 horse-15 kangaroo-2 kangaroo-5 kangaroo-11 kangaroo-14 leopard-1
leopard-7 leopard-16 leopard-20 lion-1 lion-5 lion-12 lion-20 lizard-1 lizard-3 lizard-6
lizard-13 microphone-2 microphone-6 microphone-14 microphone-16 monkey-3 monkey-4 monkey-9
monkey-17 shark-2 shark-3 shark-5 shark-6 squirrel-8 squirrel-11 squirrel-13 squirrel-19
volleyball-1 volleyball-13 volleyball-18 volleyball-19
""".split())

# name, image folder, first frame, last frame, digits in the file name, annotation file, lines to
# skip at the start of the annotation (and frames after the first).
_OTB100 = """
Basketball Basketball/img 1 725 4 Basketball/groundtruth_rect.txt 0
Biker Biker/img 1 142 4 Biker/groundtruth_rect.txt 0
Bird1 Bird1/img 1 408 4 Bird1/groundtruth_rect.txt 0
Bird2 Bird2/img 1 99 4 Bird2/groundtruth_rect.txt 0
BlurBody BlurBody/img 1 334 4 BlurBody/groundtruth_rect.txt 0
BlurCar1 BlurCar1/img 247 988 4 BlurCar1/groundtruth_rect.txt 0
BlurCar2 BlurCar2/img 1 585 4 BlurCar2/groundtruth_rect.txt 0
BlurCar3 BlurCar3/img 3 359 4 BlurCar3/groundtruth_rect.txt 0
BlurCar4 BlurCar4/img 18 397 4 BlurCar4/groundtruth_rect.txt 0
BlurFace BlurFace/img 1 493 4 BlurFace/groundtruth_rect.txt 0
BlurOwl BlurOwl/img 1 631 4 BlurOwl/groundtruth_rect.txt 0
Board Board/img 1 698 5 Board/groundtruth_rect.txt 0
Bolt Bolt/img 1 350 4 Bolt/groundtruth_rect.txt 0
Bolt2 Bolt2/img 1 293 4 Bolt2/groundtruth_rect.txt 0
Box Box/img 1 1161 4 Box/groundtruth_rect.txt 0
Boy Boy/img 1 602 4 Boy/groundtruth_rect.txt 0
Car1 Car1/img 1 1020 4 Car1/groundtruth_rect.txt 0
Car2 Car2/img 1 913 4 Car2/groundtruth_rect.txt 0
Car24 Car24/img 1 3059 4 Car24/groundtruth_rect.txt 0
Car4 Car4/img 1 659 4 Car4/groundtruth_rect.txt 0
CarDark CarDark/img 1 393 4 CarDark/groundtruth_rect.txt 0
CarScale CarScale/img 1 252 4 CarScale/groundtruth_rect.txt 0
ClifBar ClifBar/img 1 472 4 ClifBar/groundtruth_rect.txt 0
Coke Coke/img 1 291 4 Coke/groundtruth_rect.txt 0
Couple Couple/img 1 140 4 Couple/groundtruth_rect.txt 0
Coupon Coupon/img 1 327 4 Coupon/groundtruth_rect.txt 0
Crossing Crossing/img 1 120 4 Crossing/groundtruth_rect.txt 0
Crowds Crowds/img 1 347 4 Crowds/groundtruth_rect.txt 0
Dancer Dancer/img 1 225 4 Dancer/groundtruth_rect.txt 0
Dancer2 Dancer2/img 1 150 4 Dancer2/groundtruth_rect.txt 0
David David/img 300 770 4 David/groundtruth_rect.txt 0
David2 David2/img 1 537 4 David2/groundtruth_rect.txt 0
David3 David3/img 1 252 4 David3/groundtruth_rect.txt 0
Deer Deer/img 1 71 4 Deer/groundtruth_rect.txt 0
Diving Diving/img 1 215 4 Diving/groundtruth_rect.txt 0
Dog Dog/img 1 127 4 Dog/groundtruth_rect.txt 0
Dog1 Dog1/img 1 1350 4 Dog1/groundtruth_rect.txt 0
Doll Doll/img 1 3872 4 Doll/groundtruth_rect.txt 0
DragonBaby DragonBaby/img 1 113 4 DragonBaby/groundtruth_rect.txt 0
Dudek Dudek/img 1 1145 4 Dudek/groundtruth_rect.txt 0
FaceOcc1 FaceOcc1/img 1 892 4 FaceOcc1/groundtruth_rect.txt 0
FaceOcc2 FaceOcc2/img 1 812 4 FaceOcc2/groundtruth_rect.txt 0
Fish Fish/img 1 476 4 Fish/groundtruth_rect.txt 0
FleetFace FleetFace/img 1 707 4 FleetFace/groundtruth_rect.txt 0
Football Football/img 1 362 4 Football/groundtruth_rect.txt 0
Football1 Football1/img 1 74 4 Football1/groundtruth_rect.txt 0
Freeman1 Freeman1/img 1 326 4 Freeman1/groundtruth_rect.txt 0
Freeman3 Freeman3/img 1 460 4 Freeman3/groundtruth_rect.txt 0
Freeman4 Freeman4/img 1 283 4 Freeman4/groundtruth_rect.txt 0
Girl Girl/img 1 500 4 Girl/groundtruth_rect.txt 0
Girl2 Girl2/img 1 1500 4 Girl2/groundtruth_rect.txt 0
Gym Gym/img 1 767 4 Gym/groundtruth_rect.txt 0
Human2 Human2/img 1 1128 4 Human2/groundtruth_rect.txt 0
Human3 Human3/img 1 1698 4 Human3/groundtruth_rect.txt 0
Human4_2 Human4/img 1 667 4 Human4/groundtruth_rect.2.txt 0
Human5 Human5/img 1 713 4 Human5/groundtruth_rect.txt 0
Human6 Human6/img 1 792 4 Human6/groundtruth_rect.txt 0
Human7 Human7/img 1 250 4 Human7/groundtruth_rect.txt 0
Human8 Human8/img 1 128 4 Human8/groundtruth_rect.txt 0
Human9 Human9/img 1 305 4 Human9/groundtruth_rect.txt 0
Ironman Ironman/img 1 166 4 Ironman/groundtruth_rect.txt 0
Jogging_1 Jogging/img 1 307 4 Jogging/groundtruth_rect.1.txt 0
Jogging_2 Jogging/img 1 307 4 Jogging/groundtruth_rect.2.txt 0
Jump Jump/img 1 122 4 Jump/groundtruth_rect.txt 0
Jumping Jumping/img 1 313 4 Jumping/groundtruth_rect.txt 0
KiteSurf KiteSurf/img 1 84 4 KiteSurf/groundtruth_rect.txt 0
Lemming Lemming/img 1 1336 4 Lemming/groundtruth_rect.txt 0
Liquor Liquor/img 1 1741 4 Liquor/groundtruth_rect.txt 0
Man Man/img 1 134 4 Man/groundtruth_rect.txt 0
Matrix Matrix/img 1 100 4 Matrix/groundtruth_rect.txt 0
Mhyang Mhyang/img 1 1490 4 Mhyang/groundtruth_rect.txt 0
MotorRolling MotorRolling/img 1 164 4 MotorRolling/groundtruth_rect.txt 0
MountainBike MountainBike/img 1 228 4 MountainBike/groundtruth_rect.txt 0
Panda Panda/img 1 1000 4 Panda/groundtruth_rect.txt 0
RedTeam RedTeam/img 1 1918 4 RedTeam/groundtruth_rect.txt 0
Rubik Rubik/img 1 1997 4 Rubik/groundtruth_rect.txt 0
Shaking Shaking/img 1 365 4 Shaking/groundtruth_rect.txt 0
Singer1 Singer1/img 1 351 4 Singer1/groundtruth_rect.txt 0
Singer2 Singer2/img 1 366 4 Singer2/groundtruth_rect.txt 0
Skater Skater/img 1 160 4 Skater/groundtruth_rect.txt 0
Skater2 Skater2/img 1 435 4 Skater2/groundtruth_rect.txt 0
Skating1 Skating1/img 1 400 4 Skating1/groundtruth_rect.txt 0
Skating2_1 Skating2/img 1 473 4 Skating2/groundtruth_rect.1.txt 0
Skating2_2 Skating2/img 1 473 4 Skating2/groundtruth_rect.2.txt 0
Skiing Skiing/img 1 81 4 Skiing/groundtruth_rect.txt 0
Soccer Soccer/img 1 392 4 Soccer/groundtruth_rect.txt 0
Subway Subway/img 1 175 4 Subway/groundtruth_rect.txt 0
Surfer Surfer/img 1 376 4 Surfer/groundtruth_rect.txt 0
Suv Suv/img 1 945 4 Suv/groundtruth_rect.txt 0
Sylvester Sylvester/img 1 1345 4 Sylvester/groundtruth_rect.txt 0
Tiger1 Tiger1/img 1 354 4 Tiger1/groundtruth_rect.txt 5
Tiger2 Tiger2/img 1 365 4 Tiger2/groundtruth_rect.txt 0
Toy Toy/img 1 271 4 Toy/groundtruth_rect.txt 0
Trans Trans/img 1 124 4 Trans/groundtruth_rect.txt 0
Trellis Trellis/img 1 569 4 Trellis/groundtruth_rect.txt 0
Twinnings Twinnings/img 1 472 4 Twinnings/groundtruth_rect.txt 0
Vase Vase/img 1 271 4 Vase/groundtruth_rect.txt 0
Walking Walking/img 1 412 4 Walking/groundtruth_rect.txt 0
Walking2 Walking2/img 1 500 4 Walking2/groundtruth_rect.txt 0
Woman Woman/img 1 597 4 Woman/groundtruth_rect.txt 0
"""

_UAV123 = """
bike1 data_seq/UAV123/bike1 1 3085 6 anno/UAV123/bike1.txt 0
bike2 data_seq/UAV123/bike2 1 553 6 anno/UAV123/bike2.txt 0
bike3 data_seq/UAV123/bike3 1 433 6 anno/UAV123/bike3.txt 0
bird1_1 data_seq/UAV123/bird1 1 253 6 anno/UAV123/bird1_1.txt 0
bird1_2 data_seq/UAV123/bird1 775 1477 6 anno/UAV123/bird1_2.txt 0
bird1_3 data_seq/UAV123/bird1 1573 2437 6 anno/UAV123/bird1_3.txt 0
boat1 data_seq/UAV123/boat1 1 901 6 anno/UAV123/boat1.txt 0
boat2 data_seq/UAV123/boat2 1 799 6 anno/UAV123/boat2.txt 0
boat3 data_seq/UAV123/boat3 1 901 6 anno/UAV123/boat3.txt 0
boat4 data_seq/UAV123/boat4 1 553 6 anno/UAV123/boat4.txt 0
boat5 data_seq/UAV123/boat5 1 505 6 anno/UAV123/boat5.txt 0
boat6 data_seq/UAV123/boat6 1 805 6 anno/UAV123/boat6.txt 0
boat7 data_seq/UAV123/boat7 1 535 6 anno/UAV123/boat7.txt 0
boat8 data_seq/UAV123/boat8 1 685 6 anno/UAV123/boat8.txt 0
boat9 data_seq/UAV123/boat9 1 1399 6 anno/UAV123/boat9.txt 0
building1 data_seq/UAV123/building1 1 469 6 anno/UAV123/building1.txt 0
building2 data_seq/UAV123/building2 1 577 6 anno/UAV123/building2.txt 0
building3 data_seq/UAV123/building3 1 829 6 anno/UAV123/building3.txt 0
building4 data_seq/UAV123/building4 1 787 6 anno/UAV123/building4.txt 0
building5 data_seq/UAV123/building5 1 481 6 anno/UAV123/building5.txt 0
car1_1 data_seq/UAV123/car1 1 751 6 anno/UAV123/car1_1.txt 0
car1_2 data_seq/UAV123/car1 751 1627 6 anno/UAV123/car1_2.txt 0
car1_3 data_seq/UAV123/car1 1627 2629 6 anno/UAV123/car1_3.txt 0
car10 data_seq/UAV123/car10 1 1405 6 anno/UAV123/car10.txt 0
car11 data_seq/UAV123/car11 1 337 6 anno/UAV123/car11.txt 0
car12 data_seq/UAV123/car12 1 499 6 anno/UAV123/car12.txt 0
car13 data_seq/UAV123/car13 1 415 6 anno/UAV123/car13.txt 0
car14 data_seq/UAV123/car14 1 1327 6 anno/UAV123/car14.txt 0
car15 data_seq/UAV123/car15 1 469 6 anno/UAV123/car15.txt 0
car16_1 data_seq/UAV123/car16 1 415 6 anno/UAV123/car16_1.txt 0
car16_2 data_seq/UAV123/car16 415 1993 6 anno/UAV123/car16_2.txt 0
car17 data_seq/UAV123/car17 1 1057 6 anno/UAV123/car17.txt 0
car18 data_seq/UAV123/car18 1 1207 6 anno/UAV123/car18.txt 0
car1_s data_seq/UAV123/car1_s 1 1475 6 anno/UAV123/car1_s.txt 0
car2 data_seq/UAV123/car2 1 1321 6 anno/UAV123/car2.txt 0
car2_s data_seq/UAV123/car2_s 1 320 6 anno/UAV123/car2_s.txt 0
car3 data_seq/UAV123/car3 1 1717 6 anno/UAV123/car3.txt 0
car3_s data_seq/UAV123/car3_s 1 1300 6 anno/UAV123/car3_s.txt 0
car4 data_seq/UAV123/car4 1 1345 6 anno/UAV123/car4.txt 0
car4_s data_seq/UAV123/car4_s 1 830 6 anno/UAV123/car4_s.txt 0
car5 data_seq/UAV123/car5 1 745 6 anno/UAV123/car5.txt 0
car6_1 data_seq/UAV123/car6 1 487 6 anno/UAV123/car6_1.txt 0
car6_2 data_seq/UAV123/car6 487 1807 6 anno/UAV123/car6_2.txt 0
car6_3 data_seq/UAV123/car6 1807 2953 6 anno/UAV123/car6_3.txt 0
car6_4 data_seq/UAV123/car6 2953 3925 6 anno/UAV123/car6_4.txt 0
car6_5 data_seq/UAV123/car6 3925 4861 6 anno/UAV123/car6_5.txt 0
car7 data_seq/UAV123/car7 1 1033 6 anno/UAV123/car7.txt 0
car8_1 data_seq/UAV123/car8 1 1357 6 anno/UAV123/car8_1.txt 0
car8_2 data_seq/UAV123/car8 1357 2575 6 anno/UAV123/car8_2.txt 0
car9 data_seq/UAV123/car9 1 1879 6 anno/UAV123/car9.txt 0
group1_1 data_seq/UAV123/group1 1 1333 6 anno/UAV123/group1_1.txt 0
group1_2 data_seq/UAV123/group1 1333 2515 6 anno/UAV123/group1_2.txt 0
group1_3 data_seq/UAV123/group1 2515 3925 6 anno/UAV123/group1_3.txt 0
group1_4 data_seq/UAV123/group1 3925 4873 6 anno/UAV123/group1_4.txt 0
group2_1 data_seq/UAV123/group2 1 907 6 anno/UAV123/group2_1.txt 0
group2_2 data_seq/UAV123/group2 907 1771 6 anno/UAV123/group2_2.txt 0
group2_3 data_seq/UAV123/group2 1771 2683 6 anno/UAV123/group2_3.txt 0
group3_1 data_seq/UAV123/group3 1 1567 6 anno/UAV123/group3_1.txt 0
group3_2 data_seq/UAV123/group3 1567 2827 6 anno/UAV123/group3_2.txt 0
group3_3 data_seq/UAV123/group3 2827 4369 6 anno/UAV123/group3_3.txt 0
group3_4 data_seq/UAV123/group3 4369 5527 6 anno/UAV123/group3_4.txt 0
person1 data_seq/UAV123/person1 1 799 6 anno/UAV123/person1.txt 0
person10 data_seq/UAV123/person10 1 1021 6 anno/UAV123/person10.txt 0
person11 data_seq/UAV123/person11 1 721 6 anno/UAV123/person11.txt 0
person12_1 data_seq/UAV123/person12 1 601 6 anno/UAV123/person12_1.txt 0
person12_2 data_seq/UAV123/person12 601 1621 6 anno/UAV123/person12_2.txt 0
person13 data_seq/UAV123/person13 1 883 6 anno/UAV123/person13.txt 0
person14_1 data_seq/UAV123/person14 1 847 6 anno/UAV123/person14_1.txt 0
person14_2 data_seq/UAV123/person14 847 1813 6 anno/UAV123/person14_2.txt 0
person14_3 data_seq/UAV123/person14 1813 2923 6 anno/UAV123/person14_3.txt 0
person15 data_seq/UAV123/person15 1 1339 6 anno/UAV123/person15.txt 0
person16 data_seq/UAV123/person16 1 1147 6 anno/UAV123/person16.txt 0
person17_1 data_seq/UAV123/person17 1 1501 6 anno/UAV123/person17_1.txt 0
person17_2 data_seq/UAV123/person17 1501 2347 6 anno/UAV123/person17_2.txt 0
person18 data_seq/UAV123/person18 1 1393 6 anno/UAV123/person18.txt 0
person19_1 data_seq/UAV123/person19 1 1243 6 anno/UAV123/person19_1.txt 0
person19_2 data_seq/UAV123/person19 1243 2791 6 anno/UAV123/person19_2.txt 0
person19_3 data_seq/UAV123/person19 2791 4357 6 anno/UAV123/person19_3.txt 0
person1_s data_seq/UAV123/person1_s 1 1600 6 anno/UAV123/person1_s.txt 0
person2_1 data_seq/UAV123/person2 1 1189 6 anno/UAV123/person2_1.txt 0
person2_2 data_seq/UAV123/person2 1189 2623 6 anno/UAV123/person2_2.txt 0
person20 data_seq/UAV123/person20 1 1783 6 anno/UAV123/person20.txt 0
person21 data_seq/UAV123/person21 1 487 6 anno/UAV123/person21.txt 0
person22 data_seq/UAV123/person22 1 199 6 anno/UAV123/person22.txt 0
person23 data_seq/UAV123/person23 1 397 6 anno/UAV123/person23.txt 0
person2_s data_seq/UAV123/person2_s 1 250 6 anno/UAV123/person2_s.txt 0
person3 data_seq/UAV123/person3 1 643 6 anno/UAV123/person3.txt 0
person3_s data_seq/UAV123/person3_s 1 505 6 anno/UAV123/person3_s.txt 0
person4_1 data_seq/UAV123/person4 1 1501 6 anno/UAV123/person4_1.txt 0
person4_2 data_seq/UAV123/person4 1501 2743 6 anno/UAV123/person4_2.txt 0
person5_1 data_seq/UAV123/person5 1 877 6 anno/UAV123/person5_1.txt 0
person5_2 data_seq/UAV123/person5 877 2101 6 anno/UAV123/person5_2.txt 0
person6 data_seq/UAV123/person6 1 901 6 anno/UAV123/person6.txt 0
person7_1 data_seq/UAV123/person7 1 1249 6 anno/UAV123/person7_1.txt 0
person7_2 data_seq/UAV123/person7 1249 2065 6 anno/UAV123/person7_2.txt 0
person8_1 data_seq/UAV123/person8 1 1075 6 anno/UAV123/person8_1.txt 0
person8_2 data_seq/UAV123/person8 1075 1525 6 anno/UAV123/person8_2.txt 0
person9 data_seq/UAV123/person9 1 661 6 anno/UAV123/person9.txt 0
truck1 data_seq/UAV123/truck1 1 463 6 anno/UAV123/truck1.txt 0
truck2 data_seq/UAV123/truck2 1 385 6 anno/UAV123/truck2.txt 0
truck3 data_seq/UAV123/truck3 1 535 6 anno/UAV123/truck3.txt 0
truck4_1 data_seq/UAV123/truck4 1 577 6 anno/UAV123/truck4_1.txt 0
truck4_2 data_seq/UAV123/truck4 577 1261 6 anno/UAV123/truck4_2.txt 0
uav1_1 data_seq/UAV123/uav1 1 1555 6 anno/UAV123/uav1_1.txt 0
uav1_2 data_seq/UAV123/uav1 1555 2377 6 anno/UAV123/uav1_2.txt 0
uav1_3 data_seq/UAV123/uav1 2473 3469 6 anno/UAV123/uav1_3.txt 0
uav2 data_seq/UAV123/uav2 1 133 6 anno/UAV123/uav2.txt 0
uav3 data_seq/UAV123/uav3 1 265 6 anno/UAV123/uav3.txt 0
uav4 data_seq/UAV123/uav4 1 157 6 anno/UAV123/uav4.txt 0
uav5 data_seq/UAV123/uav5 1 139 6 anno/UAV123/uav5.txt 0
uav6 data_seq/UAV123/uav6 1 109 6 anno/UAV123/uav6.txt 0
uav7 data_seq/UAV123/uav7 1 373 6 anno/UAV123/uav7.txt 0
uav8 data_seq/UAV123/uav8 1 301 6 anno/UAV123/uav8.txt 0
wakeboard1 data_seq/UAV123/wakeboard1 1 421 6 anno/UAV123/wakeboard1.txt 0
wakeboard10 data_seq/UAV123/wakeboard10 1 469 6 anno/UAV123/wakeboard10.txt 0
wakeboard2 data_seq/UAV123/wakeboard2 1 733 6 anno/UAV123/wakeboard2.txt 0
wakeboard3 data_seq/UAV123/wakeboard3 1 823 6 anno/UAV123/wakeboard3.txt 0
wakeboard4 data_seq/UAV123/wakeboard4 1 697 6 anno/UAV123/wakeboard4.txt 0
wakeboard5 data_seq/UAV123/wakeboard5 1 1675 6 anno/UAV123/wakeboard5.txt 0
wakeboard6 data_seq/UAV123/wakeboard6 1 1165 6 anno/UAV123/wakeboard6.txt 0
wakeboard7 data_seq/UAV123/wakeboard7 1 199 6 anno/UAV123/wakeboard7.txt 0
wakeboard8 data_seq/UAV123/wakeboard8 1 1543 6 anno/UAV123/wakeboard8.txt 0
wakeboard9 data_seq/UAV123/wakeboard9 1 355 6 anno/UAV123/wakeboard9.txt 0
"""


def _parse(table: str) -> dict[str, dict]:
    rows = {}
    for line in table.strip().splitlines():
        name, folder, first, last, digits, anno, omit = line.split()
        rows[name] = dict(folder=folder, first=int(first), last=int(last), digits=int(digits), anno=anno, omit=int(omit))
    return rows


OTB100: dict[str, dict] = _parse(_OTB100)
UAV123: dict[str, dict] = _parse(_UAV123)
