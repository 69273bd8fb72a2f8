// The board app. The pairing and live views arrive with the pairing work;
// until then the board says what it is.
const el = document.getElementById('board');
el.querySelector('.hint').textContent = 'This is a classboard board.';
