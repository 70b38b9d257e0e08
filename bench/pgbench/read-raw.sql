\set id random(:lo, :hi)
SELECT * FROM cards WHERE id = :id;
